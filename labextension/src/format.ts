/**
 * Pure formatting helpers shared by the workspace and datasets views.
 */

/**
 * A byte count for people: "0 B", "1.5 KiB", "300 MiB", "1.2 GiB".
 *
 * @param bytes - the count; null/undefined gives "".
 * @returns the label.
 */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/**
 * A transfer rate for people: "95.2 MiB/s", in the units of `formatBytes`.
 *
 * @param bytesPerSecond - the rate; null gives "".
 * @returns the label.
 */
export function formatRate(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null || !Number.isFinite(bytesPerSecond)) {
    return '';
  }
  return `${formatBytes(bytesPerSecond)}/s`;
}

/**
 * A time still to wait, as precise as it is worth: "8 s", "50 s", "3 min",
 * "1 h 5 min", "2 d 3 h".
 *
 * @param seconds - the duration; null gives "".
 * @returns the label.
 */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) {
    return '';
  }
  if (seconds < 55) {
    // Under ten seconds every second shows; above, steps of 5 s (an estimate
    // that flickers by one second each redraw only distracts).
    const s = Math.max(1, Math.ceil(seconds));
    return `${s < 10 ? s : Math.ceil(s / 5) * 5} s`;
  }
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes < 60) {
    return `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    const m = minutes % 60;
    return m ? `${hours} h ${m} min` : `${hours} h`;
  }
  const days = Math.floor(hours / 24);
  const h = hours % 24;
  return h ? `${days} d ${h} h` : `${days} d`;
}

/**
 * A percentage label for a fraction: "0%" .. "100%" (never 100% before done).
 *
 * @param fraction - in [0, 1].
 * @returns the label.
 */
export function percent(fraction: number): string {
  if (!Number.isFinite(fraction)) {
    return '0%';
  }
  const clamped = Math.max(0, Math.min(1, fraction));
  const value = Math.floor(clamped * 100);
  return `${value}%`;
}

/**
 * A compact age for narrow columns: "now", "42s", "5m", "3h", "12d", then the
 * date ("2026-01-05").
 *
 * @param time - an ISO 8601 timestamp (null gives "").
 * @param now - the current time in ms (injectable for tests).
 * @returns the label.
 */
export function shortAge(
  time: string | null | undefined,
  now: number = Date.now()
): string {
  if (!time) {
    return '';
  }
  const t = Date.parse(time);
  if (!Number.isFinite(t)) {
    return '';
  }
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 5) {
    return 'now';
  }
  if (s < 60) {
    return `${s}s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)}h`;
  }
  if (s < 30 * 86400) {
    return `${Math.floor(s / 86400)}d`;
  }
  return new Date(t).toISOString().slice(0, 10);
}
