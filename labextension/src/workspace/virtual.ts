/**
 * Pure maths of the virtualised list: which rows to render for a scroll
 * position, where to put them, and when to fetch the next page. Only the rows
 * in (and a little around) the viewport exist in the DOM, so a folder of
 * 100,000 objects costs a few dozen row elements. Unit tested.
 */

/**
 * Browsers cap element heights (Chrome about 33.5 M px, Firefox about 17.9 M
 * px): above this, the scroll space is compressed and mapped back.
 */
export const MAX_SCROLL_HEIGHT = 10_000_000;

/**
 * The rows to render for one scroll position.
 */
export interface IWindow {
  /** The first rendered row (inclusive). */
  start: number;
  /** The last rendered row (exclusive). */
  end: number;
  /** The top of row `start`, in px from the top of the scroll content. */
  offset: number;
  /** The height of the scroll content, in px. */
  height: number;
}

/**
 * The window of rows to render.
 *
 * @param scrollTop - the scroller's `scrollTop`.
 * @param viewport - the scroller's `clientHeight`.
 * @param rowHeight - the fixed row height in px.
 * @param count - the number of rows.
 * @param overscan - extra rows rendered above and below the viewport.
 * @param maxHeight - the largest scroll content height (see MAX_SCROLL_HEIGHT).
 * @returns the window.
 */
export function computeWindow(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  count: number,
  overscan = 6,
  maxHeight = MAX_SCROLL_HEIGHT
): IWindow {
  if (count <= 0 || rowHeight <= 0) {
    return { start: 0, end: 0, offset: 0, height: 0 };
  }
  const total = count * rowHeight;
  const height = Math.min(total, maxHeight);
  const view = Math.max(0, viewport);
  const top = Math.max(0, Math.min(scrollTop, Math.max(0, height - view)));
  // Map the real scroll position onto the virtual one (identity when the
  // content fits); the last real position shows the last rows.
  const virtualTop =
    height === total || height <= view
      ? top
      : (top * (total - view)) / (height - view);
  const first = Math.min(count - 1, Math.floor(virtualTop / rowHeight));
  const visible = Math.ceil(view / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + visible + overscan);
  const offset = top + (start * rowHeight - virtualTop);
  return { start, end, offset, height };
}

/**
 * Whether the next page should be fetched now.
 *
 * @param window - the rendered window.
 * @param loaded - the rows loaded so far.
 * @param hasMore - whether the server has more (a `next` cursor).
 * @param threshold - fetch when the window is this many rows from the end.
 * @returns true when a fetch is due.
 */
export function shouldFetchMore(
  window: IWindow,
  loaded: number,
  hasMore: boolean,
  threshold = 100
): boolean {
  return hasMore && window.end + threshold >= loaded;
}

/**
 * The `scrollTop` that brings row `index` into view, or null when it already is
 * (for keyboard navigation). Only exact when the content is not compressed.
 *
 * @param index - the row.
 * @param scrollTop - the current scroll position.
 * @param viewport - the viewport height.
 * @param rowHeight - the row height.
 * @returns the new scroll position, or null.
 */
export function scrollToReveal(
  index: number,
  scrollTop: number,
  viewport: number,
  rowHeight: number
): number | null {
  const top = index * rowHeight;
  if (top < scrollTop) {
    return top;
  }
  if (top + rowHeight > scrollTop + viewport) {
    return top + rowHeight - viewport;
  }
  return null;
}
