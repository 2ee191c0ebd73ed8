/**
 * Pure helpers of the model views: number formats for metrics, ratios and
 * deltas, the comparison table's columns, chart series, key metrics of a
 * version, the CSV file name and names proposed for models. No DOM
 * (unit-tested).
 */
import type { ICompare, ICompareRow } from '../api/models';
import { formatBytes } from '../format';
import { formatNumber } from '../jobs/chart';

/**
 * The text of a missing value.
 */
export const MISSING = '—';

/**
 * Whether a value is a finite number.
 */
export function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * A ratio such as "0.42×"; "—" when missing.
 *
 * @param ratio - this / baseline.
 * @returns the label.
 */
export function formatRatio(ratio: number | null | undefined): string {
  if (!isNumber(ratio)) {
    return MISSING;
  }
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}×`;
}

/**
 * An accuracy difference in percentage points, signed: "+1.20 pp",
 * "−0.50 pp", "0.00 pp"; "—" when missing.
 *
 * @param delta - this accuracy minus the baseline's (fractions).
 * @returns the label.
 */
export function formatDelta(delta: number | null | undefined): string {
  if (!isNumber(delta)) {
    return MISSING;
  }
  const points = Math.round(delta * 10000) / 100;
  if (points === 0) {
    return '0.00 pp';
  }
  const sign = points > 0 ? '+' : '−';
  return `${sign}${Math.abs(points).toFixed(2)} pp`;
}

/**
 * A fraction as a percentage: "95.0%"; "—" when missing.
 */
export function formatPercent(value: number | null | undefined): string {
  if (!isNumber(value)) {
    return MISSING;
  }
  return `${(value * 100).toFixed(1)}%`;
}

/**
 * Milliseconds: "0.21 ms"; "—" when missing.
 */
export function formatMs(value: number | null | undefined): string {
  if (!isNumber(value)) {
    return MISSING;
  }
  return `${formatNumber(value)} ms`;
}

/**
 * A throughput: "5400/s"; "—" when missing.
 */
export function formatThroughput(value: number | null | undefined): string {
  if (!isNumber(value)) {
    return MISSING;
  }
  return `${formatNumber(value)}/s`;
}

/**
 * Any metric value as text: numbers compactly, strings as they are, other
 * JSON as JSON; "—" when missing.
 */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) {
    return MISSING;
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? formatNumber(value) : String(value);
  }
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'boolean') {
    return value ? 'true' : 'false';
  }
  return JSON.stringify(value);
}

/**
 * The metric keys shown first, in order, when a version has them.
 */
export const PREFERRED_METRICS: ReadonlyArray<string> = [
  'accuracy',
  'val_accuracy',
  'test_accuracy',
  'top5',
  'f1',
  'mse',
  'mae',
  'rmse',
  'loss',
  'val_loss'
];

/**
 * The few metrics of a version worth a table column: the preferred keys it
 * has, then the others alphabetically.
 *
 * @param metrics - the version's metrics.
 * @param count - how many to keep.
 * @returns `[key, value]` pairs.
 */
export function keyMetrics(
  metrics: Record<string, unknown> | null | undefined,
  count = 3
): [string, unknown][] {
  const entries = Object.entries(metrics ?? {}).filter(
    ([, v]) => v !== null && v !== undefined && typeof v !== 'object'
  );
  const rank = (key: string) => {
    const i = PREFERRED_METRICS.indexOf(key);
    return i < 0 ? PREFERRED_METRICS.length : i;
  };
  entries.sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
  return entries.slice(0, count);
}

/**
 * The speed figures of a comparison row, by key.
 */
const SPEED_KEYS = new Set([
  'runtime',
  'runtime_version',
  'latency_ms_p50',
  'latency_ms_p95',
  'batch_size',
  'throughput_per_s',
  'peak_memory_mb',
  'model_size_bytes',
  'threads'
]);

/**
 * The value of a comparison column for a row: the metric of that name, else
 * the speed figure of that name.
 *
 * @param row - the row.
 * @param key - the column.
 * @returns the value, undefined when the row has none.
 */
export function cellValue(row: ICompareRow, key: string): unknown {
  if (row.metrics && key in row.metrics) {
    return row.metrics[key];
  }
  const speed = row.speed as Record<string, unknown> | null;
  if (speed && key in speed) {
    return speed[key];
  }
  return undefined;
}

/**
 * The size of a row's version (the registry's size, else the evaluation's).
 */
export function rowSize(row: ICompareRow): number | null {
  if (isNumber(row.size_bytes)) {
    return row.size_bytes;
  }
  const fromSpeed = row.speed?.model_size_bytes;
  return isNumber(fromSpeed) ? fromSpeed : null;
}

/**
 * A column of the comparison table.
 */
export interface ICompareColumn {
  key: string;
  /** The (untranslated) header. */
  label: string;
  /** Numbers align right. */
  numeric: boolean;
  /** The cell text of a row. */
  text: (row: ICompareRow) => string;
}

/**
 * The columns of the comparison table: ref, format, runtime, size, accuracy,
 * accuracy delta, latency p50/p95, latency ratio, throughput, size ratio,
 * then the other scalar columns of the comparison (e.g. top5, mse).
 *
 * @param compare - the comparison.
 * @returns the columns, in order.
 */
export function compareColumns(compare: ICompare): ICompareColumn[] {
  const num = (key: string) => (row: ICompareRow) => cellValue(row, key);
  const fixed: ICompareColumn[] = [
    { key: 'ref', label: 'Version', numeric: false, text: r => r.ref },
    { key: 'format', label: 'Format', numeric: false, text: r => r.format },
    {
      key: 'runtime',
      label: 'Runtime',
      numeric: false,
      text: r => r.runtime ?? r.speed?.runtime ?? MISSING
    },
    {
      key: 'size_bytes',
      label: 'Size',
      numeric: true,
      text: r => formatBytes(rowSize(r)) || MISSING
    },
    {
      key: 'accuracy',
      label: 'Accuracy',
      numeric: true,
      text: r => formatPercent(num('accuracy')(r) as number)
    },
    {
      key: 'accuracy_delta',
      label: 'Accuracy Δ',
      numeric: true,
      text: r => formatDelta(r.accuracy_delta)
    },
    {
      key: 'latency_ms_p50',
      label: 'Latency p50',
      numeric: true,
      text: r => formatMs(num('latency_ms_p50')(r) as number)
    },
    {
      key: 'latency_ms_p95',
      label: 'Latency p95',
      numeric: true,
      text: r => formatMs(num('latency_ms_p95')(r) as number)
    },
    {
      key: 'latency_ratio',
      label: 'Latency ratio',
      numeric: true,
      text: r => formatRatio(r.latency_ratio)
    },
    {
      key: 'throughput_per_s',
      label: 'Throughput',
      numeric: true,
      text: r => formatThroughput(num('throughput_per_s')(r) as number)
    },
    {
      key: 'size_ratio',
      label: 'Size ratio',
      numeric: true,
      text: r => formatRatio(r.size_ratio)
    }
  ];
  const taken = new Set(fixed.map(c => c.key));
  const extra: ICompareColumn[] = [];
  for (const key of compare.columns ?? []) {
    if (taken.has(key) || SPEED_KEYS.has(key)) {
      continue;
    }
    const scalar = compare.rows.some(row => {
      const v = cellValue(row, key);
      return typeof v === 'number' || typeof v === 'string';
    });
    if (!scalar) {
      continue;
    }
    taken.add(key);
    extra.push({
      key,
      label: key,
      numeric: compare.rows.some(row => isNumber(cellValue(row, key))),
      text: r => {
        const v = cellValue(r, key);
        return typeof v === 'object' && v !== null ? MISSING : formatValue(v);
      }
    });
  }
  return [...fixed, ...extra];
}

/**
 * One bar of a comparison chart.
 */
export interface IBar {
  label: string;
  value: number;
}

/**
 * The bars of a comparison chart: one per row that has a number for `key`
 * (`size_bytes` takes the row's size).
 *
 * @param compare - the comparison.
 * @param key - the metric or speed key.
 * @returns the bars in row order.
 */
export function chartSeries(compare: ICompare, key: string): IBar[] {
  const bars: IBar[] = [];
  for (const row of compare.rows) {
    const value = key === 'size_bytes' ? rowSize(row) : cellValue(row, key);
    if (isNumber(value)) {
      bars.push({ label: row.ref, value });
    }
  }
  return bars;
}

/**
 * The file name of a comparison's CSV: "compare-" and the compared refs, with
 * characters other than letters, digits, ".", "_" and "-" replaced by "-",
 * at most 120 characters before ".csv".
 *
 * @param refs - the compared version refs, e.g. `alice/cnn:1`.
 * @returns e.g. `compare-alice-cnn-1_alice-cnn-2.csv`.
 */
export function csvFilename(refs: ReadonlyArray<string>): string {
  const parts = refs
    .map(r =>
      r
        .replace(/[^A-Za-z0-9._-]+/g, '-')
        .replace(/^[-.]+|[-.]+$/g, '')
        .replace(/-{2,}/g, '-')
    )
    .filter(Boolean);
  const stem = ['compare', ...(parts.length > 0 ? [parts.join('_')] : [])]
    .join('-')
    .slice(0, 120)
    .replace(/[-_.]+$/, '');
  return `${stem}.csv`;
}

/**
 * A model name proposed from a job's name: lower case, other characters
 * become "-", starts with a letter or digit, at most 63 characters.
 *
 * @param name - the job name.
 * @returns the name, or "model" when nothing usable is left.
 */
export function modelNameFrom(name: string): string {
  const clean = (name ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+/, '')
    .replace(/-+$/, '')
    .slice(0, 63);
  return clean || 'model';
}

/**
 * Whether a name is a valid model name.
 */
export function isModelName(name: string): boolean {
  return /^[a-z0-9][a-z0-9_-]{0,62}$/.test(name);
}

/**
 * The `mdl-id:N` key of a version for `GET /models/compare`.
 */
export function versionKey(modelId: string, version: number): string {
  return `${modelId}:${version}`;
}
