import { formatDuration, formatRate } from '../format';
import { RateMeter, secondsLeft } from '../uploads/rate';

const MiB = 1024 * 1024;

describe('RateMeter', () => {
  it('says nothing before a second of sending', () => {
    const meter = new RateMeter();
    expect(meter.rate(0)).toBeNull();
    meter.add(MiB, 0);
    meter.add(MiB, 500);
    expect(meter.rate(600)).toBeNull();
  });

  it('measures a steady upload', () => {
    const meter = new RateMeter();
    for (let t = 0; t <= 5000; t += 100) {
      meter.add(MiB, t); // 10 MiB/s
    }
    expect(meter.rate(5000)! / MiB).toBeCloseTo(10, 0);
  });

  it('follows a slower network within the window, not the average', () => {
    const meter = new RateMeter(10_000);
    let t = 0;
    for (; t < 60_000; t += 100) {
      meter.add(10 * MiB, t); // 100 MiB/s for a minute
    }
    for (const end = t + 12_000; t < end; t += 100) {
      meter.add(MiB, t); // then 10 MiB/s
    }
    expect(meter.rate(t)! / MiB).toBeCloseTo(10, 0);
  });

  it('falls while nothing moves', () => {
    const meter = new RateMeter(10_000);
    for (let t = 0; t <= 5000; t += 100) {
      meter.add(MiB, t);
    }
    const moving = meter.rate(5000)!;
    const stalled = meter.rate(9000)!;
    expect(stalled).toBeLessThan(moving * 0.7);
    expect(meter.rate(30_000)).toBe(0);
  });

  it('ignores empty reports and starts afresh after reset', () => {
    const meter = new RateMeter();
    meter.add(0, 0);
    meter.add(-5, 10);
    expect(meter.rate(2000)).toBeNull();
    for (let t = 0; t <= 3000; t += 100) {
      meter.add(MiB, t);
    }
    meter.reset();
    expect(meter.rate(3000)).toBeNull();
  });
});

describe('secondsLeft', () => {
  it.each([
    [100 * MiB, 10 * MiB, 10],
    [0, 10 * MiB, 0],
    [-5, 10 * MiB, 0],
    [100 * MiB, null, null],
    [100 * MiB, 0, null]
  ])('%d bytes at %p B/s: %p s', (remaining, rate, expected) => {
    expect(secondsLeft(remaining, rate)).toBe(expected);
  });
});

describe('formatRate', () => {
  it.each([
    [95.2 * MiB, '95.2 MiB/s'],
    [512, '512 B/s'],
    [null, ''],
    [Infinity, '']
  ])('%p', (rate, label) => {
    expect(formatRate(rate)).toBe(label);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '1 s'],
    [0.2, '1 s'],
    [8.1, '9 s'],
    [12, '15 s'],
    [54, '55 s'],
    [56, '1 min'],
    [89, '1 min'],
    [91, '2 min'],
    [150, '3 min'],
    [59 * 60, '59 min'],
    [3600, '1 h'],
    [3900, '1 h 5 min'],
    [2 * 86400 + 3 * 3600, '2 d 3 h'],
    [null, ''],
    [-1, ''],
    [NaN, '']
  ])('%p s: %p', (seconds, label) => {
    expect(formatDuration(seconds)).toBe(label);
  });
});
