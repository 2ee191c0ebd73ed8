/**
 * Typed wrappers of the workspace routes of the Training Zoo API v1 and of the
 * Lab-home copy routes of the server extension. No UI here: errors are thrown
 * as `TzResponseError`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { API_NAMESPACE, requestAPI, requestServer } from './request';

/**
 * A space of the workspace: the caller's own (`user:<name>`) or a team's.
 */
export interface ISpace {
  space: string;
  kind: 'user' | 'team';
  name: string;
}

/**
 * A file or folder of the workspace.
 */
export interface IWorkspaceItem {
  name: string;
  /** The path relative to the space root (POSIX, no leading slash). */
  path: string;
  type: 'file' | 'folder';
  size: number | null;
  modified: string | null;
}

/**
 * The server-side sort keys of a listing.
 */
export type SortKey = 'name' | 'size' | 'modified';

/**
 * The sort direction of a listing.
 */
export type SortOrder = 'asc' | 'desc';

/**
 * One page of a folder listing.
 */
export interface IListPage {
  items: IWorkspaceItem[];
  /** The cursor of the next page, `null` after the last one. */
  next: string | null;
}

/**
 * The options of one listing request.
 */
export interface IListOptions {
  space: string;
  path: string;
  cursor?: string | null;
  limit?: number;
  sort?: SortKey;
  order?: SortOrder;
}

/**
 * The preview JSON of a file (workspace or dataset).
 */
export type IPreview =
  | { kind: 'image'; width: number; height: number; format: string }
  | {
      kind: 'table';
      columns: string[];
      rows: unknown[][];
      truncated: boolean;
    }
  | { kind: 'text'; text: string; truncated: boolean }
  | { kind: 'json'; value?: unknown; text?: string; truncated: boolean }
  | { kind: 'binary'; size: number };

/**
 * A query string from defined values only.
 */
export function query(params: Record<string, unknown>): string {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) {
      clean[key] = String(value);
    }
  }
  return URLExt.objectToQueryString(clean);
}

/**
 * The spaces the caller may use.
 */
export async function listSpaces(
  settings?: ServerConnection.ISettings
): Promise<ISpace[]> {
  const body = await requestAPI<{ items: ISpace[] }>(
    'workspace/spaces',
    {},
    settings
  );
  return body.items;
}

/**
 * One page of a folder.
 */
export function listFolder(
  options: IListOptions,
  settings?: ServerConnection.ISettings,
  signal?: AbortSignal
): Promise<IListPage> {
  return requestAPI<IListPage>(
    'workspace/list' +
      query({
        space: options.space,
        path: options.path,
        cursor: options.cursor || undefined,
        limit: options.limit,
        sort: options.sort,
        order: options.order
      }),
    { signal },
    settings
  );
}

/**
 * Create a folder.
 */
export function makeFolder(
  space: string,
  path: string,
  settings?: ServerConnection.ISettings
): Promise<IWorkspaceItem> {
  return requestAPI<IWorkspaceItem>(
    'workspace/mkdir',
    { method: 'POST', body: JSON.stringify({ space, path }) },
    settings
  );
}

/**
 * Move (`move`; a rename is a move in the same folder) or copy (`copy`) a
 * file or folder inside a space.
 */
export function transferItem(
  op: 'move' | 'copy',
  space: string,
  path: string,
  target: string,
  overwrite = false,
  settings?: ServerConnection.ISettings
): Promise<IWorkspaceItem> {
  return requestAPI<IWorkspaceItem>(
    `workspace/${op}`,
    {
      method: 'POST',
      body: JSON.stringify({ space, path, target, overwrite })
    },
    settings
  );
}

/**
 * Delete a file, or a folder recursively.
 */
export async function deleteItem(
  space: string,
  path: string,
  settings?: ServerConnection.ISettings
): Promise<void> {
  await requestAPI<void>(
    'workspace/files' + query({ space, path }),
    { method: 'DELETE' },
    settings
  );
}

/**
 * The preview JSON of a workspace file.
 */
export function previewItem(
  space: string,
  path: string,
  settings?: ServerConnection.ISettings
): Promise<IPreview> {
  return requestAPI<IPreview>(
    'workspace/preview' + query({ space, path }),
    {},
    settings
  );
}

/**
 * The absolute URL of an API GET route, for `<a href>` and `<img src>`: the
 * session cookie authenticates same-origin GETs (no XSRF header is needed for
 * GET), and the token is appended where the page itself uses one.
 *
 * @param endPoint - the path under the API namespace.
 * @param params - the query parameters.
 * @param settings - the server settings.
 */
export function apiGetURL(
  endPoint: string,
  params: Record<string, unknown>,
  settings: ServerConnection.ISettings
): string {
  const all: Record<string, unknown> = { ...params };
  if (settings.appendToken && settings.token) {
    all.token = settings.token;
  }
  return URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint) + query(all);
}

/**
 * The download URL of a workspace file.
 */
export function downloadURL(
  space: string,
  path: string,
  settings: ServerConnection.ISettings
): string {
  return apiGetURL('workspace/download', { space, path }, settings);
}

/**
 * The thumbnail URL of a workspace image.
 */
export function thumbnailURL(
  space: string,
  path: string,
  size: number,
  settings: ServerConnection.ISettings
): string {
  return apiGetURL('workspace/thumbnail', { space, path, size }, settings);
}

/**
 * Copy a workspace file or folder into the Lab home (server-extension route).
 */
export function copyToLab(
  space: string,
  path: string,
  labPath: string,
  settings?: ServerConnection.ISettings
): Promise<unknown> {
  return requestServer<unknown>(
    'tz/workspace/to-lab',
    {
      method: 'POST',
      body: JSON.stringify({ space, path, lab_path: labPath })
    },
    settings
  );
}

/**
 * Copy a Lab file or folder into the workspace (server-extension route).
 */
export function copyFromLab(
  labPath: string,
  space: string,
  path: string,
  settings?: ServerConnection.ISettings
): Promise<unknown> {
  return requestServer<unknown>(
    'tz/workspace/from-lab',
    {
      method: 'POST',
      body: JSON.stringify({ lab_path: labPath, space, path })
    },
    settings
  );
}
