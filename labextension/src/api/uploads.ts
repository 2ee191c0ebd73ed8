/**
 * Typed wrappers of the upload-session routes of the Training Zoo API v1:
 * resumable multipart uploads into the workspace. No UI here.
 */
import { ServerConnection } from '@jupyterlab/services';

import { IWorkspaceItem } from './workspace';
import { requestAPI } from './request';

/**
 * One part the service has received.
 */
export interface IReceivedPart {
  number: number;
  size: number;
  etag: string | null;
  /** The stored part's CRC32 (base64), null where the store keeps none. */
  crc32?: string | null;
}

/**
 * An upload session.
 */
export interface IUploadSession {
  id: string;
  space: string;
  path: string;
  size: number;
  part_size: number;
  parts: number;
  created: string | number;
  received: IReceivedPart[];
}

/**
 * Open a session for a file of `size` bytes at `path` in `space`.
 */
export function createUpload(
  body: { space: string; path: string; size: number; overwrite?: boolean },
  settings?: ServerConnection.ISettings
): Promise<IUploadSession> {
  return requestAPI<IUploadSession>(
    'uploads',
    { method: 'POST', body: JSON.stringify(body) },
    settings
  );
}

/**
 * The status of a session, with the parts received so far.
 */
export function getUpload(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<IUploadSession> {
  return requestAPI<IUploadSession>(
    `uploads/${encodeURIComponent(id)}`,
    {},
    settings
  );
}

/**
 * The caller's open sessions.
 */
export async function listUploads(
  settings?: ServerConnection.ISettings
): Promise<IUploadSession[]> {
  const body = await requestAPI<{ items: IUploadSession[] }>(
    'uploads',
    {},
    settings
  );
  return body.items;
}

/**
 * Finish a session: the file appears whole at its key.
 */
export function completeUpload(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<IWorkspaceItem> {
  return requestAPI<IWorkspaceItem>(
    `uploads/${encodeURIComponent(id)}/complete`,
    { method: 'POST' },
    settings
  );
}

/**
 * Abort a session and drop its parts.
 */
export async function abortUpload(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<void> {
  await requestAPI<void>(
    `uploads/${encodeURIComponent(id)}`,
    { method: 'DELETE' },
    settings
  );
}
