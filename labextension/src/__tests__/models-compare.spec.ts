import type { ICompare, ICompareRow } from '../api/models';
import {
  chartSeries,
  compareColumns,
  csvFilename,
  formatDelta,
  formatMs,
  formatPercent,
  formatRatio,
  formatValue,
  isModelName,
  keyMetrics,
  modelNameFrom,
  versionKey
} from '../models/comparison';

const row = (over: Partial<ICompareRow>): ICompareRow => ({
  ref: 'alice/cnn:1',
  model_id: 'mdl-0123456789ab',
  version: 1,
  format: 'pytorch-state-dict',
  runtime: 'pytorch-eager',
  size_bytes: 2048,
  evaluation_id: 'run-1',
  dataset: 'alice/shapes:V001',
  metrics: { accuracy: 0.95, top5: 1, per_class: { a: { precision: 1 } } },
  speed: { latency_ms_p50: 0.5, latency_ms_p95: 0.9, throughput_per_s: 5400 },
  accuracy_delta: 0,
  latency_ratio: 1,
  size_ratio: 1,
  ...over
});

const compare: ICompare = {
  baseline: 'alice/cnn:1',
  dataset: 'alice/shapes:V001',
  columns: ['accuracy', 'top5', 'per_class', 'latency_ms_p50', 'note'],
  rows: [
    row({}),
    row({
      ref: 'alice/cnn:2',
      version: 2,
      format: 'onnx',
      runtime: 'onnxruntime',
      size_bytes: null,
      metrics: { accuracy: 0.94, note: 'int8' },
      speed: {
        latency_ms_p50: 0.2,
        latency_ms_p95: 0.3,
        throughput_per_s: 9000,
        model_size_bytes: 512
      },
      accuracy_delta: -0.01,
      latency_ratio: 0.4,
      size_ratio: 0.25
    }),
    row({
      ref: 'alice/cnn:3',
      version: 3,
      metrics: {},
      speed: null,
      accuracy_delta: null,
      latency_ratio: null,
      size_ratio: null
    })
  ]
};

describe('number formats', () => {
  it('formats ratios', () => {
    expect(formatRatio(0.4)).toBe('0.40×');
    expect(formatRatio(1)).toBe('1.00×');
    expect(formatRatio(12.345)).toBe('12.3×');
    expect(formatRatio(null)).toBe('—');
    expect(formatRatio(NaN)).toBe('—');
  });

  it('formats accuracy deltas in signed percentage points', () => {
    expect(formatDelta(0.012)).toBe('+1.20 pp');
    expect(formatDelta(-0.005)).toBe('−0.50 pp');
    expect(formatDelta(0)).toBe('0.00 pp');
    expect(formatDelta(-0.00001)).toBe('0.00 pp');
    expect(formatDelta(undefined)).toBe('—');
  });

  it('formats percentages, milliseconds and values', () => {
    expect(formatPercent(0.953)).toBe('95.3%');
    expect(formatMs(0.213)).toBe('0.213 ms');
    expect(formatMs(null)).toBe('—');
    expect(formatValue('<img src=x onerror=alert(1)>')).toBe(
      '<img src=x onerror=alert(1)>'
    );
    expect(formatValue(true)).toBe('true');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
    expect(formatValue(null)).toBe('—');
  });
});

describe('compareColumns', () => {
  const columns = compareColumns(compare);
  const text = (key: string, r: number) =>
    columns.find(c => c.key === key)!.text(compare.rows[r]);

  it('has the fixed columns first, then scalar extra metrics', () => {
    expect(columns.map(c => c.key)).toEqual([
      'ref',
      'format',
      'runtime',
      'size_bytes',
      'accuracy',
      'accuracy_delta',
      'latency_ms_p50',
      'latency_ms_p95',
      'latency_ratio',
      'throughput_per_s',
      'size_ratio',
      'top5',
      'note'
    ]);
    expect(columns.find(c => c.key === 'note')!.numeric).toBe(false);
    expect(columns.find(c => c.key === 'top5')!.numeric).toBe(true);
  });

  it('formats every cell, with dashes for missing figures', () => {
    expect(text('accuracy', 0)).toBe('95.0%');
    expect(text('accuracy_delta', 1)).toBe('−1.00 pp');
    expect(text('latency_ms_p50', 1)).toBe('0.2 ms');
    expect(text('latency_ratio', 1)).toBe('0.40×');
    expect(text('size_ratio', 1)).toBe('0.25×');
    expect(text('size_bytes', 0)).toBe('2.0 KiB');
    expect(text('size_bytes', 1)).toBe('512 B');
    expect(text('throughput_per_s', 1)).toBe('9000/s');
    expect(text('accuracy', 2)).toBe('—');
    expect(text('latency_ratio', 2)).toBe('—');
    expect(text('top5', 1)).toBe('—');
  });
});

describe('chartSeries', () => {
  it('keeps rows that have the figure, in row order', () => {
    expect(chartSeries(compare, 'accuracy')).toEqual([
      { label: 'alice/cnn:1', value: 0.95 },
      { label: 'alice/cnn:2', value: 0.94 }
    ]);
    expect(chartSeries(compare, 'latency_ms_p50').map(b => b.value)).toEqual([
      0.5, 0.2
    ]);
    expect(chartSeries(compare, 'size_bytes').map(b => b.value)).toEqual([
      2048, 512, 2048
    ]);
  });
});

describe('csvFilename', () => {
  it('names the file after the compared refs', () => {
    expect(csvFilename(['alice/cnn:1', 'alice/cnn:2'])).toBe(
      'compare-alice-cnn-1_alice-cnn-2.csv'
    );
  });

  it('neutralises hostile characters and bounds the length', () => {
    const name = csvFilename([
      '../../etc/passwd',
      '<img src=x>',
      'a'.repeat(300)
    ]);
    expect(name).toMatch(/^[A-Za-z0-9._-]+\.csv$/);
    expect(name).not.toContain('..');
    expect(name.length).toBeLessThanOrEqual(124);
  });

  it('falls back to "compare.csv"', () => {
    expect(csvFilename([])).toBe('compare.csv');
    expect(csvFilename(['///'])).toBe('compare.csv');
  });
});

describe('keyMetrics', () => {
  it('prefers accuracy-like keys, then alphabetical, skipping objects', () => {
    expect(
      keyMetrics({
        zeta: 1,
        loss: 0.1,
        accuracy: 0.9,
        confusion: { a: 1 } as unknown as number,
        alpha: 2
      })
    ).toEqual([
      ['accuracy', 0.9],
      ['loss', 0.1],
      ['alpha', 2]
    ]);
    expect(keyMetrics(null)).toEqual([]);
  });
});

describe('model names', () => {
  it('proposes a valid name from a job name', () => {
    expect(modelNameFrom('Train Shapes CNN!')).toBe('train-shapes-cnn');
    expect(modelNameFrom('__x')).toBe('x');
    expect(modelNameFrom('<<>>')).toBe('model');
    expect(isModelName(modelNameFrom('A'.repeat(100)))).toBe(true);
  });

  it('checks names', () => {
    expect(isModelName('shapes-cnn')).toBe(true);
    expect(isModelName('-x')).toBe(false);
    expect(isModelName('Shapes')).toBe(false);
    expect(isModelName('a'.repeat(64))).toBe(false);
  });

  it('keys versions for the compare route', () => {
    expect(versionKey('mdl-abc', 2)).toBe('mdl-abc:2');
  });
});
