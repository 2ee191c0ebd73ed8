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
