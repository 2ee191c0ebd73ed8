/**
 * Saving what a request returned as a file in the browser.
 */

/**
 * Save text or bytes as a file through a temporary object-URL link (the body
 * was fetched with the XSRF-safe request code, so no URL is built here).
 *
 * @param data - the body.
 * @param filename - the suggested file name.
 * @param type - the MIME type of text (a Blob keeps its own).
 */
export function saveFile(
  data: Blob | string,
  filename: string,
  type = 'application/octet-stream'
): void {
  const blob = typeof data === 'string' ? new Blob([data], { type }) : data;
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10000);
}
