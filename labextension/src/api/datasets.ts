/**
 * Typed wrappers of the datasets routes of the Training Zoo API v1. No UI here.
 */
import { ServerConnection } from '@jupyterlab/services';

import { IPage, listFiltered } from './paging';
import { requestAPI } from './request';
import { apiGetURL, IPreview, query } from './workspace';

/**
 * The dataset types.
 */
export type DatasetType =
  'image_classification' | 'object_detection' | 'text' | 'tabular' | 'generic';

/**
 * The dataset types, in the order the UI offers them.
 */
export const DATASET_TYPES: ReadonlyArray<DatasetType> = [
  'image_classification',
  'object_detection',
  'text',
  'tabular',
  'generic'
];

/**
 * Who may read a dataset.
 */
export type Visibility = 'private' | 'team' | 'public';

/**
 * A dataset.
 */
export interface IDataset {
  id: string;
  name: string;
  description: string;
  owner: string;
  team: string | null;
  visibility: Visibility;
  type: DatasetType;
  labels: string[];
  created: string;
  updated: string;
  draft: { files: number; bytes: number; labeled: number; revision: number };
  latest_version: string | null;
  versions: number;
}

/**
 * A box of an object-detection annotation, in image pixels (x/y top-left).
 */
export interface IBox {
  label: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * The annotations of one file.
 */
export interface IAnnotations {
  labels: string[];
  boxes: IBox[];
}

/**
 * The split a file belongs to.
 */
export type Usage = 'train' | 'val' | 'test' | null;

/**
 * A file of a draft or of a version's manifest.
 */
export interface IDatasetFile {
  key: string;
  size: number;
  sha256: string;
  usage: Usage;
  annotations: IAnnotations;
  source?: string;
  /** Draft only. */
  revision?: number;
  updated_by?: string;
  updated?: string;
}

/**
 * A published version.
 */
export interface IVersion {
  version: string;
  created: string;
  created_by: string;
  note: string | null;
  files: number;
  bytes: number;
  manifest_sha256: string;
  stats?: {
    labels: Record<string, number>;
    splits: Record<string, number>;
    labeled: number;
  };
}

/**
 * The difference between two versions.
 */
export interface IDiff {
  added: string[];
  removed: string[];
  relabeled: { key: string; before: unknown; after: unknown }[];
  counts: Record<string, number>;
}

/**
 * The filters of the datasets list.
 */
export interface IDatasetQuery {
  q?: string;
  type?: DatasetType | '';
  owner?: string;
  visibility?: Visibility | '';
  offset?: number;
  limit?: number;
}

/**
 * The body of `POST /datasets`.
 */
export interface IDatasetCreate {
  name: string;
  type: DatasetType;
  description?: string;
  visibility?: Visibility;
  team?: string | null;
  labels?: string[];
}

const base = (id: string) => `datasets/${encodeURIComponent(id)}`;

/**
 * The datasets the caller can read.
 */
export function listDatasets(
  filters: IDatasetQuery,
  settings?: ServerConnection.ISettings
): Promise<IPage<IDataset>> {
  return listFiltered<IDataset>('datasets', filters, settings);
}

/**
 * Create a dataset.
 */
export function createDataset(
  body: IDatasetCreate,
  settings?: ServerConnection.ISettings
): Promise<IDataset> {
  return requestAPI<IDataset>(
    'datasets',
    { method: 'POST', body: JSON.stringify(body) },
    settings
  );
}

/**
 * One dataset.
 */
export function getDataset(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<IDataset> {
  return requestAPI<IDataset>(base(id), {}, settings);
}

/**
 * Change a dataset's description, visibility, team or labels.
 */
export function patchDataset(
  id: string,
  body: Partial<
    Pick<IDataset, 'description' | 'visibility' | 'team' | 'labels'>
  >,
  settings?: ServerConnection.ISettings
): Promise<IDataset> {
  return requestAPI<IDataset>(
    base(id),
    { method: 'PATCH', body: JSON.stringify(body) },
    settings
  );
}

/**
 * Add a workspace file or folder (recursively) to the draft.
 */
export function addFromWorkspace(
  id: string,
  space: string,
  path: string,
  settings?: ServerConnection.ISettings
): Promise<{ added: number; bytes: number; files: number; skipped: number }> {
  return requestAPI(
    `${base(id)}/files`,
    {
      method: 'POST',
      body: JSON.stringify({ source: 'workspace', space, path })
    },
    settings
  );
}

/**
 * A page of the draft's files (`version` absent) or of a version's manifest.
 */
export function listFiles(
  id: string,
  params: {
    offset?: number;
    limit?: number;
    q?: string;
    labeled?: boolean;
    version?: string | null;
  },
  settings?: ServerConnection.ISettings
): Promise<IPage<IDatasetFile>> {
  const { version, ...rest } = params;
  const path = version
    ? `${base(id)}/versions/${encodeURIComponent(version)}/files`
    : `${base(id)}/files`;
  return requestAPI<IPage<IDatasetFile>>(path + query(rest), {}, settings);
}

/**
 * Save the annotations of one draft file; a stale `revision` answers 409
 * `StaleRevision` with the current file in `errors.current`.
 */
export function saveAnnotations(
  id: string,
  body: {
    key: string;
    revision: number;
    annotations: IAnnotations;
    usage?: Usage;
  },
  settings?: ServerConnection.ISettings
): Promise<IDatasetFile> {
  return requestAPI<IDatasetFile>(
    `${base(id)}/files/annotations`,
    { method: 'POST', body: JSON.stringify(body) },
    settings
  );
}

/**
 * Publish the draft as a new version.
 */
export function publish(
  id: string,
  note: string,
  settings?: ServerConnection.ISettings
): Promise<IVersion> {
  return requestAPI<IVersion>(
    `${base(id)}/publish`,
    { method: 'POST', body: JSON.stringify(note ? { note } : {}) },
    settings
  );
}

/**
 * The versions of a dataset, newest first.
 */
export async function listVersions(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<IVersion[]> {
  const body = await requestAPI<{ items: IVersion[] }>(
    `${base(id)}/versions`,
    {},
    settings
  );
  return body.items;
}

/**
 * One version with its statistics.
 */
export function getVersion(
  id: string,
  version: string,
  settings?: ServerConnection.ISettings
): Promise<IVersion> {
  return requestAPI<IVersion>(
    `${base(id)}/versions/${encodeURIComponent(version)}`,
    {},
    settings
  );
}

/**
 * The difference of `version` against `against`.
 */
export function diffVersions(
  id: string,
  version: string,
  against: string,
  settings?: ServerConnection.ISettings
): Promise<IDiff> {
  return requestAPI<IDiff>(
    `${base(id)}/versions/${encodeURIComponent(version)}/diff` +
      query({ against }),
    {},
    settings
  );
}

/**
 * The preview JSON of a dataset file.
 */
export function previewFile(
  id: string,
  key: string,
  version: string | null,
  settings?: ServerConnection.ISettings
): Promise<IPreview> {
  return requestAPI<IPreview>(
    `${base(id)}/files/preview` + query({ key, version }),
    {},
    settings
  );
}

/**
 * The URL of a dataset file's bytes (for `<img>` of the labeling views).
 */
export function contentURL(
  id: string,
  key: string,
  version: string | null,
  settings: ServerConnection.ISettings
): string {
  return apiGetURL(`${base(id)}/files/content`, { key, version }, settings);
}

/**
 * The URL of a published version as one ZIP (files, manifest, version.json),
 * made and checked by the service while it streams.
 */
export function versionDownloadURL(
  id: string,
  version: string,
  settings: ServerConnection.ISettings
): string {
  return apiGetURL(
    `${base(id)}/versions/${encodeURIComponent(version)}/download`,
    {},
    settings
  );
}

/**
 * The URL of a dataset image's thumbnail.
 */
export function fileThumbnailURL(
  id: string,
  key: string,
  version: string | null,
  size: number,
  settings: ServerConnection.ISettings
): string {
  return apiGetURL(
    `${base(id)}/files/thumbnail`,
    { key, version, size },
    settings
  );
}
