import {
  boxAt,
  fitScale,
  handleAt,
  isUsable,
  moveRect,
  rectFromDrag,
  resizeRect,
  roundRect
} from '../datasets/geometry';

describe('box geometry', () => {
  it('makes a box from a drag in any direction, clipped to the image', () => {
    expect(rectFromDrag(10, 20, 50, 60, 100, 100)).toEqual({
      x: 10,
      y: 20,
      w: 40,
      h: 40
    });
    expect(rectFromDrag(50, 60, 10, 20, 100, 100)).toEqual({
      x: 10,
      y: 20,
      w: 40,
      h: 40
    });
    expect(rectFromDrag(-5, 90, 30, 150, 100, 100)).toEqual({
      x: 0,
      y: 90,
      w: 30,
      h: 10
    });
  });

  it('moves a box and keeps it inside the image', () => {
    const box = { x: 10, y: 10, w: 20, h: 20 };
    expect(moveRect(box, 5, -3, 100, 100)).toEqual({
      x: 15,
      y: 7,
      w: 20,
      h: 20
    });
    expect(moveRect(box, 500, 500, 100, 100)).toEqual({
      x: 80,
      y: 80,
      w: 20,
      h: 20
    });
    expect(moveRect(box, -50, 0, 100, 100).x).toBe(0);
  });

  it('resizes by a corner, keeping the opposite corner', () => {
    const box = { x: 10, y: 10, w: 20, h: 20 };
    expect(resizeRect(box, 'se', 5, 10, 100, 100)).toEqual({
      x: 10,
      y: 10,
      w: 25,
      h: 30
    });
    expect(resizeRect(box, 'nw', -5, -5, 100, 100)).toEqual({
      x: 5,
      y: 5,
      w: 25,
      h: 25
    });
    // Dragging past the opposite corner flips instead of going negative.
    expect(resizeRect(box, 'ne', -30, 0, 100, 100)).toEqual({
      x: 0,
      y: 10,
      w: 10,
      h: 20
    });
  });

  it('finds handles and boxes under the pointer', () => {
    const box = { x: 10, y: 10, w: 20, h: 20 };
    expect(handleAt(box, 31, 29, 3)).toBe('se');
    expect(handleAt(box, 9, 11, 3)).toBe('nw');
    expect(handleAt(box, 20, 20, 3)).toBeNull();
    const boxes = [box, { x: 15, y: 15, w: 5, h: 5 }];
    expect(boxAt(boxes, 17, 17)).toBe(1);
    expect(boxAt(boxes, 12, 12)).toBe(0);
    expect(boxAt(boxes, 90, 90)).toBe(-1);
  });

  it('scales, rounds and rejects clicks', () => {
    expect(fitScale(1000, 500, 500, 500)).toBe(0.5);
    expect(fitScale(10, 10, 500, 500)).toBe(4);
    expect(fitScale(0, 10, 500, 500)).toBe(1);
    expect(roundRect({ label: 'a', x: 1.4, y: 1.6, w: 2.2, h: 2.2 })).toEqual({
      label: 'a',
      x: 1,
      y: 2,
      w: 3,
      h: 2
    });
    expect(isUsable({ x: 0, y: 0, w: 1, h: 50 })).toBe(false);
    expect(isUsable({ x: 0, y: 0, w: 5, h: 5 })).toBe(true);
  });
});
