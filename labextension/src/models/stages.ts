/**
 * Pure stage rules of the model view: which moves a version offers, their
 * button labels and the notice a promotion to production shows. No DOM
 * (unit-tested).
 */
import type { Stage } from '../api/models';

/**
 * The stages a version can be in.
 */
export const STAGE_NAMES: ReadonlyArray<Stage> = [
  'none',
  'staging',
  'production',
  'archived'
];

/**
 * The stages the view offers buttons for, in order.
 */
export const STAGE_TARGETS: ReadonlyArray<Stage> = [
  'staging',
  'production',
  'archived'
];

/**
 * The (untranslated) label of the button that moves a version to `stage`.
 */
export const STAGE_BUTTON_LABELS: Readonly<Record<Stage, string>> = {
  none: 'Clear stage',
  staging: 'Move to staging',
  production: 'Promote to production',
  archived: 'Archive'
};

/**
 * Whether a string is a stage.
 *
 * @param value - any string.
 * @returns true for none, staging, production and archived.
 */
export function isStage(value: string): value is Stage {
  return (STAGE_NAMES as ReadonlyArray<string>).includes(value);
}

/**
 * Whether a version may move from one stage to another: any stage to any
 * other (MLflow's rule); moving to the stage it is in is not a move.
 *
 * @param from - the current stage.
 * @param to - the wished stage.
 * @returns whether the move is allowed.
 */
export function isTransitionAllowed(from: string, to: string): boolean {
  return isStage(from) && isStage(to) && from !== to;
}

/**
 * The stage buttons of a version in `current`.
 *
 * @param current - the version's stage.
 * @returns the target stages, in button order.
 */
export function stageTargets(current: string): Stage[] {
  return STAGE_TARGETS.filter(to => isTransitionAllowed(current, to));
}

/**
 * What promoting `version` to production does to the current production
 * version, for the confirmation dialog.
 *
 * @param version - the version to promote.
 * @param production - the model's production version, or null.
 * @returns e.g. "moves v1 to archived", or null when no other version is in
 *   production.
 */
export function promotionNotice(
  version: number,
  production: number | null | undefined
): string | null {
  if (production === null || production === undefined) {
    return null;
  }
  if (production === version) {
    return null;
  }
  return `moves v${production} to archived`;
}

/**
 * Whether moving to `to` asks for a confirmation first (production always
 * does: it is what serving picks up).
 *
 * @param to - the target stage.
 * @returns true for production.
 */
export function needsConfirm(to: Stage): boolean {
  return to === 'production';
}
