/**
 * Sending one upload part with `XMLHttpRequest`, the only browser API that
 * reports upload progress. Authentication is the same as JupyterLab's
 * `ServerConnection`: the token header when the page has one, and the
 * `_xsrf` cookie echoed in `X-XSRFToken`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IReceivedPart } from '../api/uploads';
import { API_NAMESPACE } from '../api/request';
import { CHECKSUM_HEADER, xsrfFromCookie } from './plan';

/**
 * A failed part request; `status` is 0 for network errors and aborts.
 */
export class PartError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly aborted = false
  ) {
    super(message);
    this.name = 'PartError';
  }
}

/**
 * PUT one part of an upload session.
 *
 * @param uploadId - the session id.
 * @param num - the part number (1-based).
 * @param blob - the part's bytes (a `File.slice`: read lazily by the browser).
 * @param checksum - the part's CRC32 as S3 writes it (see `crc32OfBlob`).
 * @param settings - the server settings.
 * @param onProgress - called with the bytes of this part sent so far.
 * @param signal - aborts the request.
 * @returns the server's receipt.
 */
export function sendPart(
  uploadId: string,
  num: number,
  blob: Blob,
  checksum: string,
  settings: ServerConnection.ISettings,
  onProgress: (loaded: number) => void,
  signal: AbortSignal
): Promise<IReceivedPart> {
  const url = URLExt.join(
    settings.baseUrl,
    API_NAMESPACE,
    'uploads',
    encodeURIComponent(uploadId),
    'parts',
    String(num)
  );
  return new Promise<IReceivedPart>((resolve, reject) => {
    if (signal.aborted) {
      reject(new PartError('cancelled', 0, true));
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader(CHECKSUM_HEADER, checksum);
    if (settings.token) {
      xhr.setRequestHeader('Authorization', `token ${settings.token}`);
    }
    const xsrf = xsrfFromCookie(document.cookie);
    if (xsrf !== undefined) {
      xhr.setRequestHeader('X-XSRFToken', xsrf);
    }
    const onAbort = () => xhr.abort();
    signal.addEventListener('abort', onAbort);
    const done = () => signal.removeEventListener('abort', onAbort);
    xhr.upload.onprogress = event => onProgress(event.loaded);
    xhr.onload = () => {
      done();
      let body: any = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: keep null
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        resolve(body as IReceivedPart);
      } else {
        const message =
          body && typeof body.message === 'string'
            ? body.message
            : `part ${num}: HTTP ${xhr.status}`;
        reject(new PartError(message, xhr.status));
      }
    };
    xhr.onerror = () => {
      done();
      reject(new PartError(`part ${num}: network error`, 0));
    };
    xhr.onabort = () => {
      done();
      reject(new PartError('cancelled', 0, true));
    };
    xhr.send(blob);
  });
}
