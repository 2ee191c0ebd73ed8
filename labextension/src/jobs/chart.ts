/**
 * Pure helpers of the metrics chart: grouping metrics into series, "nice" axis
 * ticks, compact number formatting and downsampling. No DOM (unit-tested).
 */
import type { IMetric } from '../api/jobs';

/**
 * A point of a series.
 */
export interface IPoint {
  step: number;
  value: number;
}

/**
 * The points of one metric key logged by one rank, sorted by step.
 */
export interface ISeries {
  key: string;
  rank: number;
  points: IPoint[];
}

/**
 * Group metrics by key, then by rank; non-finite values are skipped and a
 * later record of the same step replaces an earlier one. A record without a
 * step is placed at its sequence number.
 *
 * @param metrics - the metric records, in any order.
 * @returns the series per key (keys sorted, ranks ascending).
 */
export function groupSeries(
  metrics: ReadonlyArray<IMetric>
): Map<string, ISeries[]> {
  const byKey = new Map<string, Map<number, Map<number, number>>>();
  for (const metric of metrics) {
    for (const [key, value] of Object.entries(metric.values ?? {})) {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        continue;
      }
      let byRank = byKey.get(key);
      if (!byRank) {
        byRank = new Map();
        byKey.set(key, byRank);
      }
      let bySteps = byRank.get(metric.rank);
      if (!bySteps) {
        bySteps = new Map();
        byRank.set(metric.rank, bySteps);
      }
      const x =
        typeof metric.step === 'number' && Number.isFinite(metric.step)
          ? metric.step
          : metric.seq;
      bySteps.set(x, value);
    }
  }
  const result = new Map<string, ISeries[]>();
  for (const key of [...byKey.keys()].sort()) {
    const byRank = byKey.get(key)!;
    const series: ISeries[] = [...byRank.keys()]
      .sort((a, b) => a - b)
      .map(rank => ({
        key,
        rank,
        points: [...byRank.get(rank)!.entries()]
          .map(([step, value]) => ({ step, value }))
          .sort((a, b) => a.step - b.step)
      }));
    result.set(key, series);
  }
  return result;
}

/**
 * About `count` round tick values covering `[min, max]` (steps of 1, 2 or 5
 * times a power of ten).
 *
 * @param min - the smallest value.
 * @param max - the largest value.
 * @param count - the wished number of intervals.
 * @returns the ticks, ascending; the domain `[ticks[0], ticks[last]]` covers
 *   `[min, max]`.
 */
export function niceTicks(min: number, max: number, count = 4): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    return [0, 1];
  }
  if (min > max) {
    [min, max] = [max, min];
  }
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = raw / power;
  // d3's thresholds: round to the nearest of 1, 2, 5, 10 on a log scale.
  const step =
    (unit >= Math.sqrt(50)
      ? 10
      : unit >= Math.sqrt(10)
        ? 5
        : unit >= Math.sqrt(2)
          ? 2
          : 1) * power;
  const start = Math.floor(min / step) * step;
  const stop = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let i = 0; start + i * step <= stop + step / 2; i++) {
    // Rounding keeps 0.1 + 0.2 style noise out of the labels.
    ticks.push(Number((start + i * step).toPrecision(12)));
  }
  return ticks;
}

/**
 * Format a number for an axis label or a legend: at most 4 significant digits,
 * exponent notation for very small or very large magnitudes.
 *
 * @param value - the number.
 * @returns the label.
 */
export function formatNumber(value: number): string {
  if (value === 0) {
    return '0';
  }
  const magnitude = Math.abs(value);
  if (magnitude >= 1e6 || magnitude < 1e-3) {
    return value.toExponential(2).replace(/\.?0+e/, 'e');
  }
  return String(Number(value.toPrecision(4)));
}

/**
 * Keep at most `max` points, evenly spread, always keeping the first and the
 * last one.
 *
 * @param points - the points, sorted by step.
 * @param max - the most points to keep (at least 2).
 * @returns the kept points.
 */
export function downsample(
  points: ReadonlyArray<IPoint>,
  max: number
): IPoint[] {
  if (points.length <= max) {
    return points.slice();
  }
  const keep = Math.max(2, max);
  const stride = (points.length - 1) / (keep - 1);
  const result: IPoint[] = [];
  for (let i = 0; i < keep; i++) {
    result.push(points[Math.round(i * stride)]);
  }
  return result;
}

/**
 * The smallest and largest of some numbers (without spreading them into
 * `Math.min`, which fails on very long arrays).
 *
 * @param values - the numbers.
 * @returns `[min, max]`, or `[0, 1]` when there are none.
 */
export function extent(values: Iterable<number>): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) {
      min = v;
    }
    if (v > max) {
      max = v;
    }
  }
  return min <= max ? [min, max] : [0, 1];
}
