/**
 * `RateMeter`: how fast uploads are going now, and how long they still need.
 *
 * The uploads dock shows "95 MiB/s · 3 min left". An average since the start
 * would lag behind a network that just got slower (or a laptop that moved to
 * another Wi-Fi), so the rate counts only the bytes of the last few seconds;
 * and it is measured up to "now", so an upload that stalls shows its rate
 * falling instead of the last good one.
 */

/**
 * One reading: the bytes counted so far, at a time in milliseconds.
 */
interface ISample {
  t: number;
  total: number;
}

/**
 * A sliding-window transfer rate.
 */
export class RateMeter {
  /**
   * @param windowMs - how far back the rate looks (default 10 s).
   * @param minSpanMs - the span of readings needed before a rate is given
   *   (default 1 s: the first part's first bytes say little).
   */
  constructor(
    private _windowMs = 10_000,
    private _minSpanMs = 1_000
  ) {}

  /**
   * Count bytes that went over the wire.
   *
   * @param bytes - bytes sent since the last call (a retried part's bytes
   *   count again: they were sent again).
   * @param now - the time in ms.
   */
  add(bytes: number, now: number): void {
    if (!(bytes > 0)) {
      return;
    }
    if (this._samples.length === 0) {
      // The window starts when the bytes started, not at their first report.
      this._samples.push({ t: now, total: 0 });
    }
    this._total += bytes;
    const last = this._samples[this._samples.length - 1];
    if (now - last.t < BUCKET_MS && this._samples.length > 1) {
      last.total = this._total; // readings come tens of times a second
    } else {
      this._samples.push({ t: now, total: this._total });
    }
    // Keep one reading at or before the window's start to measure from.
    const start = now - this._windowMs;
    while (this._samples.length > 2 && this._samples[1].t <= start) {
      this._samples.shift();
    }
  }

  /**
   * Bytes per second over the window, or null before there is enough to say.
   *
   * @param now - the time in ms.
   */
  rate(now: number): number | null {
    if (this._samples.length < 2) {
      return null;
    }
    const first = this._samples[0];
    const last = this._samples[this._samples.length - 1];
    if (last.t - first.t < this._minSpanMs) {
      return null;
    }
    // Measure from the window's start (interpolated) to now.
    const start = Math.max(first.t, now - this._windowMs);
    const base = this._totalAt(start);
    const span = now - start;
    return span > 0 ? ((this._total - base) * 1000) / span : null;
  }

  /**
   * Forget every reading (no upload is running any more).
   */
  reset(): void {
    this._samples = [];
    this._total = 0;
  }

  /**
   * The byte count at time `t`, interpolated between readings.
   */
  private _totalAt(t: number): number {
    const samples = this._samples;
    for (let i = samples.length - 1; i > 0; i--) {
      const a = samples[i - 1];
      const b = samples[i];
      if (a.t <= t) {
        if (t >= b.t) {
          return b.total;
        }
        return a.total + ((b.total - a.total) * (t - a.t)) / (b.t - a.t);
      }
    }
    return samples[0].total;
  }

  private _samples: ISample[] = [];
  private _total = 0;
}

/**
 * Readings closer together than this are merged into one.
 */
const BUCKET_MS = 250;

/**
 * The seconds still needed for `remaining` bytes at `rate` bytes per second,
 * or null when that cannot be said (no rate yet, or nothing moving).
 *
 * @param remaining - bytes still to send.
 * @param rate - bytes per second, or null.
 */
export function secondsLeft(
  remaining: number,
  rate: number | null
): number | null {
  if (rate === null || !(rate > 0) || !Number.isFinite(remaining)) {
    return null;
  }
  return Math.max(0, remaining) / rate;
}
