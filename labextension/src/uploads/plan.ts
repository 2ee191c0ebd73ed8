/**
 * Pure planning of resumable uploads: which byte ranges make which parts, which
 * parts are still missing after a reload, how long to wait before a retry, and
 * the target paths of dropped folders. No DOM, no network (unit tested).
 */

/**
 * One part of a file: bytes `[start, end)`, numbered from 1 like S3 parts.
 */
export interface IPartPlan {
  number: number;
  start: number;
  end: number;
}

/**
 * A part the server reports as received, with its CRC32 where the store keeps
 * one (base64 of the 4 big-endian bytes).
 */
export interface IPartReceipt {
  number: number;
  size: number;
  crc32?: string | null;
}

/**
 * The parts of a file of `size` bytes cut into `partSize` pieces (the last one
 * holds the rest). A zero-byte file has no parts.
 *
 * @param size - the file size in bytes.
 * @param partSize - the part size in bytes (from the server's session).
 * @returns the parts, numbered 1..n.
 */
export function planParts(size: number, partSize: number): IPartPlan[] {
  if (!(size > 0)) {
    return [];
  }
  if (!(partSize > 0)) {
    throw new Error(`invalid part size ${partSize}`);
  }
  const count = Math.ceil(size / partSize);
  const parts: IPartPlan[] = [];
  for (let i = 0; i < count; i++) {
    parts.push({
      number: i + 1,
      start: i * partSize,
      end: Math.min(size, (i + 1) * partSize)
    });
  }
  return parts;
}

/**
 * The parts still to send: those the server has not received, or received
 * with a different length (a part cut short is sent again; re-sending
 * replaces it on the server).
 *
 * @param plan - all the parts of the file.
 * @param received - what the server reports (`GET /uploads/{id}`).
 * @returns the parts to send, in order.
 */
export function missingParts(
  plan: ReadonlyArray<IPartPlan>,
  received: ReadonlyArray<IPartReceipt>
): IPartPlan[] {
  const got = new Map<number, number>();
  for (const part of received) {
    got.set(part.number, part.size);
  }
  return plan.filter(part => got.get(part.number) !== part.end - part.start);
}

/**
 * The received parts a resuming client should check against its own bytes
 * before keeping them: those of the right length whose CRC32 the server knows.
 * (A part without one is kept on its length alone.)
 *
 * @param plan - all the parts of the file.
 * @param received - what the server reports.
 * @returns each part with the CRC32 the server holds for it.
 */
export function partsToVerify(
  plan: ReadonlyArray<IPartPlan>,
  received: ReadonlyArray<IPartReceipt>
): { part: IPartPlan; crc32: string }[] {
  const byNumber = new Map(received.map(r => [r.number, r]));
  const out: { part: IPartPlan; crc32: string }[] = [];
  for (const part of plan) {
    const got = byNumber.get(part.number);
    if (got && got.size === part.end - part.start && got.crc32) {
      out.push({ part, crc32: got.crc32 });
    }
  }
  return out;
}

/**
 * The bytes already on the server, counting only parts of the right length.
 *
 * @param plan - all the parts of the file.
 * @param received - what the server reports.
 * @returns the byte count.
 */
export function receivedBytes(
  plan: ReadonlyArray<IPartPlan>,
  received: ReadonlyArray<IPartReceipt>
): number {
  const missing = new Set(missingParts(plan, received).map(p => p.number));
  return plan
    .filter(part => !missing.has(part.number))
    .reduce((sum, part) => sum + part.end - part.start, 0);
}

/**
 * The delay before retry number `attempt` (0-based): exponential from
 * `base` ms, capped at `max`, with "equal jitter" so that parallel retries
 * spread out.
 *
 * @param attempt - 0 for the first retry.
 * @param random - a number in [0, 1) (injectable for tests).
 * @param base - the first delay in ms.
 * @param max - the largest delay in ms.
 * @returns the delay in ms.
 */
export function backoffDelay(
  attempt: number,
  random: number = Math.random(),
  base = 500,
  max = 15_000
): number {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

/**
 * The header that carries a part's CRC32 to the service.
 */
export const CHECKSUM_HEADER = 'X-TZ-Checksum-CRC32';

/**
 * Whether a failed part is worth sending again (network errors have status 0).
 *
 * @param status - the HTTP status, 0 for a network failure.
 * @param message - the server's message: a 400 naming the checksum header
 *   means the bytes changed on the way and nothing was kept.
 * @returns true for network errors, 408, 429, 5xx and checksum mismatches.
 */
export function isRetryable(status: number, message = ''): boolean {
  if (status === 400 && message.includes(CHECKSUM_HEADER)) {
    return true;
  }
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/**
 * The overall progress of several files, as a fraction in [0, 1].
 *
 * @param files - sent and total bytes of each file.
 * @returns the fraction; 1 when there is nothing to send.
 */
export function overallProgress(
  files: ReadonlyArray<{ sent: number; size: number }>
): number {
  let sent = 0;
  let total = 0;
  for (const file of files) {
    sent += Math.min(file.sent, file.size);
    total += file.size;
  }
  return total === 0 ? 1 : sent / total;
}

/**
 * Join POSIX path segments, dropping empty ones and any leading/trailing
 * slashes (workspace paths are relative, "" is the space root).
 *
 * @param parts - the segments.
 * @returns the joined path.
 */
export function joinPath(...parts: ReadonlyArray<string>): string {
  return parts
    .flatMap(part => part.split('/'))
    .filter(segment => segment !== '' && segment !== '.')
    .join('/');
}

/**
 * The relative path of a dropped or picked file, cleaned: backslashes become
 * slashes and `.`/`..`/empty segments are dropped (the server refuses
 * traversal anyway; this keeps the UI's plan honest).
 *
 * @param path - e.g. `webkitRelativePath` or a `FileSystemEntry.fullPath`.
 * @returns the cleaned relative path, or "" when nothing is left.
 */
export function cleanRelativePath(path: string): string {
  return path
    .replace(/\\/g, '/')
    .split('/')
    .filter(s => s !== '' && s !== '.' && s !== '..')
    .join('/');
}

/**
 * What is kept in localStorage about an upload so that it can be resumed after
 * a reload (the bytes are not: the user picks the same file again).
 */
export interface IUploadRecord {
  id: string;
  name: string;
  size: number;
  lastModified: number;
  space: string;
  path: string;
}

/**
 * Whether a picked file is the one an interrupted upload was sending.
 *
 * @param record - the stored record.
 * @param file - name, size and lastModified of the picked file.
 * @returns true when all three match.
 */
export function sameFile(
  record: IUploadRecord,
  file: { name: string; size: number; lastModified: number }
): boolean {
  return (
    record.name === file.name &&
    record.size === file.size &&
    record.lastModified === file.lastModified
  );
}

/**
 * Parse the stored records, dropping anything malformed.
 *
 * @param raw - the localStorage value (may be null or garbage).
 * @returns the valid records.
 */
export function parseRecords(raw: string | null): IUploadRecord[] {
  if (!raw) {
    return [];
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return [];
  }
  if (!Array.isArray(value)) {
    return [];
  }
  return value.filter(
    (r): r is IUploadRecord =>
      typeof r === 'object' &&
      r !== null &&
      typeof r.id === 'string' &&
      typeof r.name === 'string' &&
      typeof r.size === 'number' &&
      typeof r.lastModified === 'number' &&
      typeof r.space === 'string' &&
      typeof r.path === 'string'
  );
}

/**
 * The `_xsrf` value for the `X-XSRFToken` header, from `document.cookie`: the
 * last one wins, as in JupyterLab's `ServerConnection` (tornado's cookie parser
 * keeps the last duplicate).
 *
 * @param cookie - the cookie string.
 * @returns the value, or undefined when there is none.
 */
export function xsrfFromCookie(cookie: string): string | undefined {
  let value: string | undefined;
  for (const part of cookie.split(';')) {
    const trimmed = part.trim();
    if (trimmed.startsWith('_xsrf=')) {
      value = trimmed.substring('_xsrf='.length);
    }
  }
  return value;
}
