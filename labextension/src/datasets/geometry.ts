/**
 * Pure box geometry of the object-detection labeler: boxes live in image
 * pixels (x/y top-left, as in the manifest); the view scales them. Drawing,
 * moving and resizing by corner handles all keep boxes inside the image.
 * Unit tested.
 */

/**
 * A rectangle in image pixels.
 */
export interface IRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * A corner handle of a box.
 */
export type Handle = 'nw' | 'ne' | 'sw' | 'se';

/**
 * The corners, in the order they are drawn.
 */
export const HANDLES: ReadonlyArray<Handle> = ['nw', 'ne', 'sw', 'se'];

const clamp = (v: number, lo: number, hi: number) =>
  Math.max(lo, Math.min(hi, v));

/**
 * The rectangle spanned by a drag from (x0, y0) to (x1, y1), in any
 * direction, clipped to the image.
 *
 * @param x0 - the start x.
 * @param y0 - the start y.
 * @param x1 - the end x.
 * @param y1 - the end y.
 * @param width - the image width.
 * @param height - the image height.
 * @returns a rectangle with non-negative size.
 */
export function rectFromDrag(
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  width: number,
  height: number
): IRect {
  const ax = clamp(Math.min(x0, x1), 0, width);
  const ay = clamp(Math.min(y0, y1), 0, height);
  const bx = clamp(Math.max(x0, x1), 0, width);
  const by = clamp(Math.max(y0, y1), 0, height);
  return { x: ax, y: ay, w: bx - ax, h: by - ay };
}

/**
 * A rectangle moved by (dx, dy), kept whole inside the image.
 *
 * @param rect - the rectangle.
 * @param dx - the x offset.
 * @param dy - the y offset.
 * @param width - the image width.
 * @param height - the image height.
 * @returns the moved rectangle (same size).
 */
export function moveRect(
  rect: IRect,
  dx: number,
  dy: number,
  width: number,
  height: number
): IRect {
  return {
    ...rect,
    x: clamp(rect.x + dx, 0, Math.max(0, width - rect.w)),
    y: clamp(rect.y + dy, 0, Math.max(0, height - rect.h))
  };
}

/**
 * A rectangle resized by dragging one corner by (dx, dy); the opposite corner
 * stays put, and dragging past it flips the box instead of inverting it.
 *
 * @param rect - the rectangle.
 * @param handle - the dragged corner.
 * @param dx - the x offset.
 * @param dy - the y offset.
 * @param width - the image width.
 * @param height - the image height.
 * @returns the resized rectangle.
 */
export function resizeRect(
  rect: IRect,
  handle: Handle,
  dx: number,
  dy: number,
  width: number,
  height: number
): IRect {
  const left = rect.x;
  const top = rect.y;
  const right = rect.x + rect.w;
  const bottom = rect.y + rect.h;
  const west = handle === 'nw' || handle === 'sw';
  const north = handle === 'nw' || handle === 'ne';
  const movingX = (west ? left : right) + dx;
  const movingY = (north ? top : bottom) + dy;
  const fixedX = west ? right : left;
  const fixedY = north ? bottom : top;
  return rectFromDrag(fixedX, fixedY, movingX, movingY, width, height);
}

/**
 * The corner handle under a point, if any.
 *
 * @param rect - the rectangle (image pixels).
 * @param px - the point x (image pixels).
 * @param py - the point y (image pixels).
 * @param tolerance - the grab distance in image pixels.
 * @returns the handle, or null.
 */
export function handleAt(
  rect: IRect,
  px: number,
  py: number,
  tolerance: number
): Handle | null {
  for (const handle of HANDLES) {
    const [cx, cy] = corner(rect, handle);
    if (Math.abs(px - cx) <= tolerance && Math.abs(py - cy) <= tolerance) {
      return handle;
    }
  }
  return null;
}

/**
 * The position of a corner.
 *
 * @param rect - the rectangle.
 * @param handle - the corner.
 * @returns [x, y].
 */
export function corner(rect: IRect, handle: Handle): [number, number] {
  const x = handle === 'nw' || handle === 'sw' ? rect.x : rect.x + rect.w;
  const y = handle === 'nw' || handle === 'ne' ? rect.y : rect.y + rect.h;
  return [x, y];
}

/**
 * The topmost box (the last drawn) containing a point.
 *
 * @param boxes - the boxes, in drawing order.
 * @param px - the point x.
 * @param py - the point y.
 * @returns its index, or -1.
 */
export function boxAt(
  boxes: ReadonlyArray<IRect>,
  px: number,
  py: number
): number {
  for (let i = boxes.length - 1; i >= 0; i--) {
    const b = boxes[i];
    if (px >= b.x && px <= b.x + b.w && py >= b.y && py <= b.y + b.h) {
      return i;
    }
  }
  return -1;
}

/**
 * The scale that fits an image into a box without enlarging it.
 *
 * @param width - the image width.
 * @param height - the image height.
 * @param maxWidth - the available width.
 * @param maxHeight - the available height.
 * @returns the scale (display px per image px); small images are enlarged
 *   at most 4×.
 */
export function fitScale(
  width: number,
  height: number,
  maxWidth: number,
  maxHeight: number
): number {
  if (width <= 0 || height <= 0 || maxWidth <= 0 || maxHeight <= 0) {
    return 1;
  }
  return Math.min(maxWidth / width, maxHeight / height, 4);
}

/**
 * A rectangle rounded to whole pixels (what is saved).
 *
 * @param rect - the rectangle.
 * @returns the rounded rectangle.
 */
export function roundRect<T extends IRect>(rect: T): T {
  const x = Math.round(rect.x);
  const y = Math.round(rect.y);
  return {
    ...rect,
    x,
    y,
    w: Math.round(rect.x + rect.w) - x,
    h: Math.round(rect.y + rect.h) - y
  };
}

/**
 * Whether a drawn rectangle is big enough to keep (a click is not a box).
 *
 * @param rect - the rectangle.
 * @param min - the smallest side in image pixels.
 * @returns true when both sides reach `min`.
 */
export function isUsable(rect: IRect, min = 3): boolean {
  return rect.w >= min && rect.h >= min;
}
