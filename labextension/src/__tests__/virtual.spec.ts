import {
  computeWindow,
  scrollToReveal,
  shouldFetchMore
} from '../workspace/virtual';

describe('computeWindow', () => {
  it('renders only the visible rows plus overscan', () => {
    const w = computeWindow(0, 240, 24, 100_000, 5);
    expect(w).toEqual({ start: 0, end: 16, offset: 0, height: 2_400_000 });
  });

  it('follows the scroll position', () => {
    const w = computeWindow(24 * 1000 + 10, 240, 24, 100_000, 5);
    expect(w.start).toBe(995);
    expect(w.end).toBe(1000 + 11 + 5);
    expect(w.offset).toBe(995 * 24);
    expect(w.end - w.start).toBeLessThan(30);
  });

  it('clamps past the end and handles empty lists', () => {
    const w = computeWindow(1e9, 240, 24, 50, 5);
    expect(w.end).toBe(50);
    expect(w.start).toBeGreaterThanOrEqual(50 - 11 - 5);
    expect(computeWindow(0, 240, 24, 0)).toEqual({
      start: 0,
      end: 0,
      offset: 0,
      height: 0
    });
  });

  it('compresses very tall content and still reaches the last row', () => {
    const count = 1_000_000;
    const max = 1_000_000;
    const top = computeWindow(0, 240, 24, count, 0, max);
    expect(top.height).toBe(max);
    expect(top.start).toBe(0);
    const bottom = computeWindow(max - 240, 240, 24, count, 0, max);
    expect(bottom.end).toBe(count);
    // The last row ends exactly at the bottom of the viewport.
    expect(bottom.offset + (bottom.end - bottom.start) * 24).toBeCloseTo(
      max,
      6
    );
    const middle = computeWindow(max / 2, 240, 24, count, 0, max);
    expect(middle.start).toBeGreaterThan(count * 0.49);
    expect(middle.start).toBeLessThan(count * 0.51);
    // The rows are drawn around the viewport.
    expect(middle.offset).toBeLessThanOrEqual(max / 2);
    expect(middle.offset).toBeGreaterThan(max / 2 - 24);
  });
});

describe('shouldFetchMore', () => {
  it('fetches when the window nears the loaded end', () => {
    const w = computeWindow(24 * 900, 240, 24, 1000, 5);
    expect(shouldFetchMore(w, 1000, true, 100)).toBe(true);
    expect(shouldFetchMore(w, 1000, false, 100)).toBe(false);
    const early = computeWindow(0, 240, 24, 1000, 5);
    expect(shouldFetchMore(early, 1000, true, 100)).toBe(false);
  });
});

describe('scrollToReveal', () => {
  it('scrolls only when the row is outside the viewport', () => {
    expect(scrollToReveal(5, 0, 240, 24)).toBeNull();
    expect(scrollToReveal(20, 0, 240, 24)).toBe(21 * 24 - 240);
    expect(scrollToReveal(2, 240, 240, 24)).toBe(48);
  });
});
