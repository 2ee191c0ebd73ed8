import { IMetric } from '../api/jobs';
import {
  downsample,
  extent,
  formatNumber,
  groupSeries,
  niceTicks
} from '../jobs/chart';

const metric = (
  seq: number,
  rank: number,
  step: number | null,
  values: IMetric['values']
): IMetric => ({ seq, rank, step, time: '2026-01-01T00:00:00Z', values });

describe('groupSeries', () => {
  it('groups by key then rank, sorted by step, skipping non-numbers', () => {
    const grouped = groupSeries([
      metric(1, 0, 2, { loss: 0.5, acc: 0.7 }),
      metric(2, 0, 1, { loss: 0.9 }),
      metric(3, 1, 1, { loss: 1.0, acc: null }),
      metric(4, 0, 2, { loss: 0.4 })
    ]);
    expect([...grouped.keys()]).toEqual(['acc', 'loss']);
    expect(grouped.get('acc')).toEqual([
      { key: 'acc', rank: 0, points: [{ step: 2, value: 0.7 }] }
    ]);
    expect(grouped.get('loss')).toEqual([
      {
        key: 'loss',
        rank: 0,
        points: [
          { step: 1, value: 0.9 },
          { step: 2, value: 0.4 }
        ]
      },
      { key: 'loss', rank: 1, points: [{ step: 1, value: 1.0 }] }
    ]);
  });
});

describe('niceTicks', () => {
  it('covers the range with round steps', () => {
    expect(niceTicks(0, 100, 4)).toEqual([0, 20, 40, 60, 80, 100]);
    const ticks = niceTicks(0.13, 0.87, 4);
    expect(ticks[0]).toBeLessThanOrEqual(0.13);
    expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(0.87);
    expect(ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('pads a single value', () => {
    const ticks = niceTicks(5, 5);
    expect(ticks[0]).toBeLessThan(5);
    expect(ticks[ticks.length - 1]).toBeGreaterThan(5);
  });

  it('survives bad input', () => {
    expect(niceTicks(NaN, 1)).toEqual([0, 1]);
  });
});

describe('formatNumber, extent and downsample', () => {
  it('formats compactly', () => {
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(1234)).toBe('1234');
    expect(formatNumber(0.00001234)).toBe('1.23e-5');
    expect(formatNumber(2e7)).toBe('2e+7');
  });

  it('finds the extent of long arrays', () => {
    const values = Array.from({ length: 300_000 }, (_, i) => i - 5);
    expect(extent(values)).toEqual([-5, 299_994]);
    expect(extent([])).toEqual([0, 1]);
  });

  it('keeps the first and last points', () => {
    const points = Array.from({ length: 10 }, (_, i) => ({
      step: i,
      value: i
    }));
    const kept = downsample(points, 4);
    expect(kept).toHaveLength(4);
    expect(kept[0].step).toBe(0);
    expect(kept[3].step).toBe(9);
    expect(downsample(points, 20)).toEqual(points);
  });
});

describe('groupSeries without steps', () => {
  it('places records without a step at their sequence number', () => {
    const grouped = groupSeries([
      metric(0, 0, null, { loss: 1 }),
      metric(1, 0, null, { loss: 0.5 })
    ]);
    expect(grouped.get('loss')![0].points).toEqual([
      { step: 0, value: 1 },
      { step: 1, value: 0.5 }
    ]);
  });
});
