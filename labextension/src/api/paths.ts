/**
 * Pure builders of the models routes' paths under the API namespace (no
 * JupyterLab imports, so the unit tests load them).
 */

/**
 * `models/<id>`.
 */
export function modelPath(id: string): string {
  return `models/${encodeURIComponent(id)}`;
}

/**
 * `models/<id>/versions/<n>`.
 */
export function versionPath(id: string, version: number): string {
  return `${modelPath(id)}/versions/${encodeURIComponent(String(version))}`;
}

/**
 * `models/<id>/versions/<n>/files/<path>`, each segment of the file's path
 * URL-encoded on its own (the slashes between them are kept).
 *
 * @throws {Error} when the path is empty or has an empty, `.` or `..` segment.
 */
export function versionFilePath(
  id: string,
  version: number,
  path: string
): string {
  const segments = path.split('/');
  if (segments.some(s => s === '' || s === '.' || s === '..')) {
    throw new Error(`Not a file path of a model version: "${path}"`);
  }
  return (
    `${versionPath(id, version)}/files/` +
    segments.map(encodeURIComponent).join('/')
  );
}
