/**
 * Pure keyboard mapping of the labeling views (unit tested):
 *
 * - `1`..`9`: choose label 1..9 (classification: the image's label;
 *   detection: the selected box's label, or the label of the next box drawn);
 * - `0`: clear the image's label (classification);
 * - `n` / `→`: next unlabeled file; `p` / `←`: previous file;
 * - `Delete` / `Backspace`: delete the selected box (detection);
 * - `Escape`: deselect the box (detection).
 *
 * Keys typed into inputs, and keys with Ctrl/Meta/Alt, are left alone.
 */

/**
 * What a key press asks for.
 */
export type LabelAction =
  | { kind: 'label'; index: number }
  | { kind: 'clear' }
  | { kind: 'next' }
  | { kind: 'previous' }
  | { kind: 'delete' }
  | { kind: 'deselect' };

/**
 * The parts of a keyboard event that matter here.
 */
export interface IKeyPress {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  /** The tag name of the event target, e.g. `INPUT`. */
  targetTag?: string;
}

/**
 * The labeling views.
 */
export type LabelMode = 'classification' | 'detection';

const TYPING_TAGS = new Set(['INPUT', 'TEXTAREA', 'SELECT']);

/**
 * The action of a key press, or null when the key means nothing here.
 *
 * @param press - the key press.
 * @param mode - the labeling view.
 * @param labelCount - how many labels the dataset has.
 * @returns the action, or null.
 */
export function keyAction(
  press: IKeyPress,
  mode: LabelMode,
  labelCount: number
): LabelAction | null {
  if (press.ctrlKey || press.metaKey || press.altKey) {
    return null;
  }
  if (press.targetTag && TYPING_TAGS.has(press.targetTag.toUpperCase())) {
    return null;
  }
  const key = press.key;
  if (/^[1-9]$/.test(key)) {
    const index = Number(key) - 1;
    return index < labelCount ? { kind: 'label', index } : null;
  }
  switch (key) {
    case '0':
      return mode === 'classification' ? { kind: 'clear' } : null;
    case 'n':
    case 'N':
    case 'ArrowRight':
      return { kind: 'next' };
    case 'p':
    case 'P':
    case 'ArrowLeft':
      return { kind: 'previous' };
    case 'Delete':
    case 'Backspace':
      return mode === 'detection' ? { kind: 'delete' } : null;
    case 'Escape':
      return mode === 'detection' ? { kind: 'deselect' } : null;
    default:
      return null;
  }
}

/**
 * Whether a file counts as labeled in a view.
 *
 * @param annotations - the file's annotations.
 * @param mode - the labeling view.
 * @returns true with a label (classification) or at least one box (detection).
 */
export function isLabeled(
  annotations: { labels?: string[]; boxes?: unknown[] } | null | undefined,
  mode: LabelMode
): boolean {
  if (!annotations) {
    return false;
  }
  return mode === 'classification'
    ? (annotations.labels?.length ?? 0) > 0
    : (annotations.boxes?.length ?? 0) > 0;
}

/**
 * Whether the server counts a file as labeled (`draft.labeled`, the
 * service's `is_labeled`): a label or a box, whatever the dataset's type.
 *
 * @param annotations - the file's annotations.
 * @returns true when it has any.
 */
export function hasAnnotations(
  annotations: { labels?: string[]; boxes?: unknown[] } | null | undefined
): boolean {
  return (
    isLabeled(annotations, 'classification') ||
    isLabeled(annotations, 'detection')
  );
}

/**
 * The index of the next unlabeled file after `from`, wrapping around; `from`
 * itself comes last.
 *
 * @param labeled - whether each file is labeled.
 * @param from - the current index.
 * @returns the index, or -1 when every file is labeled.
 */
export function nextUnlabeled(
  labeled: ReadonlyArray<boolean>,
  from: number
): number {
  const n = labeled.length;
  for (let step = 1; step <= n; step++) {
    const i = (((from + step) % n) + n) % n;
    if (!labeled[i]) {
      return i;
    }
  }
  return -1;
}

/**
 * The key press of a DOM (or React) keyboard event.
 *
 * @param event - the event.
 * @returns its key, modifiers and target tag.
 */
export function pressOf(event: {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  target: unknown;
}): IKeyPress {
  return {
    key: event.key,
    ctrlKey: event.ctrlKey,
    metaKey: event.metaKey,
    altKey: event.altKey,
    targetTag: (event.target as { tagName?: string } | null)?.tagName
  };
}
