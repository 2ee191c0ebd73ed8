/**
 * Pure helpers of a version's Files section.
 */

/**
 * The file name a download is saved under: the last segment of the path.
 */
export function fileName(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts.length > 0 ? parts[parts.length - 1] : 'file';
}

/**
 * The first 12 characters of a sha256 (the full value goes in a title).
 */
export function shortSha(sha256: string | null | undefined): string {
  return (sha256 ?? '').slice(0, 12);
}

/**
 * Files sorted by path, as the table shows them.
 */
export function sortedFiles<T extends { path: string }>(
  files: ReadonlyArray<T>
): T[] {
  return [...files].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0
  );
}
