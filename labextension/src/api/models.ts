/**
 * Typed wrappers of the models routes of the Training Zoo API v1 (the model
 * registry, conversions, evaluations and comparisons). No UI here: errors are
 * thrown as `TzResponseError`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IPage, listFiltered } from './paging';
import { modelPath, versionFilePath, versionPath } from './paths';
import { API_NAMESPACE, requestAPI, requestServerText } from './request';
import { apiGetURL, query } from './workspace';

/**
 * The formats of a model version.
 */
export type ModelFormat =
  | 'pytorch-state-dict'
  | 'torchscript'
  | 'onnx'
  | 'tensorflow-savedmodel'
  | 'custom';

/**
 * The formats, in the order the UI offers them.
 */
export const MODEL_FORMATS: ReadonlyArray<ModelFormat> = [
  'pytorch-state-dict',
  'torchscript',
  'onnx',
  'tensorflow-savedmodel',
  'custom'
];

/**
 * The tasks of a model.
 */
export type ModelTask =
  | 'image_classification'
  | 'object_detection'
  | 'text_classification'
  | 'tabular_classification'
  | 'regression'
  | 'generic';

/**
 * The tasks, in the order the UI offers them.
 */
export const MODEL_TASKS: ReadonlyArray<ModelTask> = [
  'image_classification',
  'object_detection',
  'text_classification',
  'tabular_classification',
  'regression',
  'generic'
];

/**
 * The stages of a model version.
 */
export type Stage = 'none' | 'staging' | 'production' | 'archived';

/**
 * The stages, in lifecycle order.
 */
export const STAGES: ReadonlyArray<Stage> = [
  'none',
  'staging',
  'production',
  'archived'
];

/**
 * Who may read a model.
 */
export type ModelVisibility = 'private' | 'team' | 'public';

/**
 * The conversion targets of `POST .../convert`.
 */
export type ConversionTarget = 'onnx' | 'torchscript' | 'int8' | 'fp16';

/**
 * The conversion targets, in the order the UI offers them.
 */
export const CONVERSION_TARGETS: ReadonlyArray<ConversionTarget> = [
  'onnx',
  'torchscript',
  'int8',
  'fp16'
];

/**
 * The tasks an evaluation knows.
 */
export type EvaluationTask =
  'image_classification' | 'tabular_classification' | 'regression' | 'custom';

/**
 * The evaluation tasks, in the order the UI offers them.
 */
export const EVALUATION_TASKS: ReadonlyArray<EvaluationTask> = [
  'image_classification',
  'tabular_classification',
  'regression',
  'custom'
];

/**
 * One file of a model version.
 */
export interface IModelFile {
  path: string;
  size: number;
  sha256: string;
}

/**
 * A registered model.
 */
export interface IModel {
  id: string;
  name: string;
  owner: string;
  description: string;
  task: ModelTask | string | null;
  visibility: ModelVisibility;
  team: string | null;
  created: string;
  updated: string;
  versions: number;
  latest_version: number | null;
  production_version: number | null;
}

/**
 * One input or output of a signature.
 */
export interface ITensorSpec {
  name: string;
  dtype: string;
  shape: number[];
}

/**
 * The input/output signature of a version.
 */
export interface ISignature {
  inputs?: ITensorSpec[];
  outputs?: ITensorSpec[];
}

/**
 * Where a version's files came from.
 */
export interface IVersionSource {
  kind: 'job' | 'workspace' | 'conversion' | 'upload' | string;
  job_id?: string | null;
  path?: string | null;
  space?: string | null;
  /** Conversions: the run that made the version. */
  run_id?: string | null;
}

/**
 * A dataset version a model was trained on.
 */
export interface ILineageDataset {
  ref: string;
  name: string;
  owner: string;
  version: string;
  dataset_id: string;
}

/**
 * The recorded lineage of a version.
 */
export interface IVersionLineage {
  job: { id: string; name: string; status: string } | null;
  datasets: ILineageDataset[];
  code_snapshot: string | null;
  image: string | null;
  parameters?: { args?: string[]; env?: Record<string, string> } | null;
}

/**
 * The scalars a version carries as metrics, parameters and tags.
 */
export type Scalar = string | number | boolean | null;

/**
 * A model version.
 */
export interface IModelVersion {
  model_id: string;
  name: string;
  owner: string;
  version: number;
  ref: string;
  version_name: string | null;
  description: string;
  format: ModelFormat | string;
  framework: string | null;
  framework_version: string | null;
  artifact: string | null;
  signature: ISignature | null;
  metrics: Record<string, number | null>;
  parameters: Record<string, Scalar>;
  tags: Record<string, string>;
  labels: string[] | null;
  preprocess: Record<string, unknown> | null;
  builder: Record<string, unknown> | null;
  card: string | null;
  stage: Stage;
  size_bytes: number;
  files: number;
  source: IVersionSource | null;
  parent: { version: number; ref: string } | null;
  conversion: IConversion | null;
  lineage: IVersionLineage | null;
  evaluations: IRun[];
  created: string;
  created_by: string;
}

/**
 * What a conversion recorded (the parity check included).
 */
export interface IConversion {
  kind?: string;
  opset?: number;
  exporter?: string;
  parity?: {
    max_abs?: number;
    max_rel?: number;
    samples?: number;
    tolerance_abs?: number;
    tolerance_rel?: number;
    passed?: boolean;
    inputs?: string;
  };
  [key: string]: unknown;
}

/**
 * The lifecycle states of a run (those of its job).
 */
export type RunStatus =
  'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/**
 * The speed figures of an evaluation.
 */
export interface ISpeed {
  runtime?: string;
  runtime_version?: string;
  latency_ms_p50?: number | null;
  latency_ms_p95?: number | null;
  batch_size?: number;
  throughput_per_s?: number | null;
  peak_memory_mb?: number | null;
  model_size_bytes?: number | null;
  threads?: number;
  hardware?: { cpu?: string; cores?: number; gpu?: string | null } | null;
}

/**
 * A conversion or an evaluation of a version (a tracked job).
 */
export interface IRun {
  id: string;
  kind: 'convert' | 'evaluate';
  model_id: string;
  version: number;
  owner?: string;
  job_id: string | null;
  status: RunStatus | string;
  message: string | null;
  params: Record<string, unknown>;
  dataset: string | null;
  result_version: number | null;
  metrics: Record<string, unknown> | null;
  speed: ISpeed | null;
  created: string;
  finished: string | null;
}

/**
 * The states after which a run never changes again.
 */
export const FINISHED_RUN_STATUSES: ReadonlyArray<string> = [
  'succeeded',
  'failed',
  'cancelled'
];

/**
 * Whether a run status is final.
 */
export function isRunFinished(status: string): boolean {
  return FINISHED_RUN_STATUSES.includes(status);
}

/**
 * A stage move of the history.
 */
export interface IStageMove {
  version: number;
  from: Stage;
  to: Stage;
  by: string;
  time: string;
  comment: string | null;
}

/**
 * The kinds of lineage nodes.
 */
export type LineageKind = 'dataset' | 'job' | 'version' | 'evaluation';

/**
 * A node of the lineage graph.
 */
export interface ILineageNode {
  id: string;
  kind: LineageKind | string;
  label: string;
  ref: string;
  /** Dataset nodes. */
  dataset_id?: string;
  /** Version nodes. */
  model_id?: string;
  version?: number;
  /** Version nodes: the stage. */
  stage?: string;
  /** Evaluation nodes: the run status. */
  status?: string;
}

/**
 * An edge of the lineage graph.
 */
export interface ILineageEdge {
  from: string;
  to: string;
  kind: string;
  /** `converted` edges: the id of the conversion's job. */
  job?: string | null;
}

/**
 * The lineage graph of a version.
 */
export interface ILineage {
  nodes: ILineageNode[];
  edges: ILineageEdge[];
}

/**
 * One row of a comparison.
 */
export interface ICompareRow {
  ref: string;
  model_id: string;
  version: number;
  format: string;
  runtime: string | null;
  size_bytes: number | null;
  evaluation_id: string | null;
  dataset: string | null;
  metrics: Record<string, unknown>;
  speed: ISpeed | null;
  accuracy_delta: number | null;
  latency_ratio: number | null;
  size_ratio: number | null;
}

/**
 * The comparison of some versions.
 */
export interface ICompare {
  baseline: string;
  dataset: string | null;
  columns: string[];
  rows: ICompareRow[];
}

/**
 * The filters of the models list.
 */
export interface IModelQuery {
  q?: string;
  task?: ModelTask | '';
  stage?: Stage | '';
  owner?: string;
  visibility?: ModelVisibility | '';
  offset?: number;
  limit?: number;
}

/**
 * Where a new version's files come from.
 */
export type RegisterSource =
  { job: string; path: string } | { space: string; path: string };

/**
 * The body of `POST /models/register`.
 */
export interface IRegisterBody {
  name: string;
  source: RegisterSource;
  description?: string;
  task?: ModelTask;
  visibility?: ModelVisibility;
  team?: string | null;
}

/**
 * The body of `POST .../convert`.
 */
export interface IConvertBody {
  to: ConversionTarget;
  opset?: number;
  tolerance?: { abs?: number; rel?: number };
  samples?: number;
  dataset?: string;
  split?: string;
}

/**
 * The body of `POST .../evaluate`.
 */
export interface IEvaluateBody {
  dataset: string;
  split?: string;
  task?: EvaluationTask;
  batch_size?: number;
  target?: string;
  script?: string;
}

const base = modelPath;
const versionBase = versionPath;

/**
 * The models the caller can read.
 */
export function listModels(
  filters: IModelQuery,
  settings?: ServerConnection.ISettings
): Promise<IPage<IModel>> {
  return listFiltered<IModel>('models', filters, settings);
}

/**
 * One model.
 */
export function getModel(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<IModel> {
  return requestAPI<IModel>(base(id), {}, settings);
}

/**
 * Register a version (creating the model when missing), Kubeflow style.
 */
export function registerModel(
  body: IRegisterBody,
  settings?: ServerConnection.ISettings
): Promise<IModelVersion> {
  return requestAPI<IModelVersion>(
    'models/register',
    { method: 'POST', body: JSON.stringify(body) },
    settings
  );
}

/**
 * The versions of a model, newest first.
 */
export async function listModelVersions(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<IModelVersion[]> {
  const page = await requestAPI<IPage<IModelVersion>>(
    `${base(id)}/versions` + query({ limit: 200 }),
    {},
    settings
  );
  return page.items;
}

/**
 * One version.
 */
export function getModelVersion(
  id: string,
  version: number,
  settings?: ServerConnection.ISettings
): Promise<IModelVersion> {
  return requestAPI<IModelVersion>(versionBase(id, version), {}, settings);
}

/**
 * Move a version to another stage.
 */
export function setStage(
  id: string,
  version: number,
  stage: Stage,
  comment: string,
  settings?: ServerConnection.ISettings
): Promise<IModelVersion> {
  return requestAPI<IModelVersion>(
    `${versionBase(id, version)}/stage`,
    {
      method: 'POST',
      body: JSON.stringify(comment ? { stage, comment } : { stage })
    },
    settings
  );
}

/**
 * The stage moves of a model, as the service orders them.
 */
export async function getHistory(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<IStageMove[]> {
  const body = await requestAPI<{ items: IStageMove[] }>(
    `${base(id)}/history`,
    {},
    settings
  );
  return body.items;
}

/**
 * The lineage graph of a version.
 */
export function getLineage(
  id: string,
  version: number,
  settings?: ServerConnection.ISettings
): Promise<ILineage> {
  return requestAPI<ILineage>(
    `${versionBase(id, version)}/lineage`,
    {},
    settings
  );
}

/**
 * Start a conversion of a version (a tracked job).
 */
export function convertVersion(
  id: string,
  version: number,
  body: IConvertBody,
  settings?: ServerConnection.ISettings
): Promise<IRun> {
  return requestAPI<IRun>(
    `${versionBase(id, version)}/convert`,
    { method: 'POST', body: JSON.stringify(body) },
    settings
  );
}

/**
 * Start an evaluation of a version on a dataset version (a tracked job).
 */
export function evaluateVersion(
  id: string,
  version: number,
  body: IEvaluateBody,
  settings?: ServerConnection.ISettings
): Promise<IRun> {
  return requestAPI<IRun>(
    `${versionBase(id, version)}/evaluate`,
    { method: 'POST', body: JSON.stringify(body) },
    settings
  );
}

/**
 * The conversions and evaluations of a model, newest first.
 */
export async function listRuns(
  id: string,
  kind: 'convert' | 'evaluate' | '' = '',
  settings?: ServerConnection.ISettings
): Promise<IRun[]> {
  const page = await requestAPI<IPage<IRun>>(
    `${base(id)}/runs` + query({ kind: kind || undefined, limit: 200 }),
    {},
    settings
  );
  return page.items;
}

/**
 * One run.
 */
export function getRun(
  runId: string,
  settings?: ServerConnection.ISettings
): Promise<IRun> {
  return requestAPI<IRun>(
    `models/runs/${encodeURIComponent(runId)}`,
    {},
    settings
  );
}

/**
 * The `versions` parameter of `GET /models/compare`: `mdl-abc:1,mdl-abc:2`
 * (model ids or refs are both passed through as given).
 */
export function compareParam(versions: ReadonlyArray<string>): string {
  return versions.join(',');
}

/**
 * Compare versions side by side.
 */
export function compareVersions(
  versions: ReadonlyArray<string>,
  dataset: string | null,
  settings?: ServerConnection.ISettings
): Promise<ICompare> {
  return requestAPI<ICompare>(
    'models/compare' +
      query({
        versions: compareParam(versions),
        dataset: dataset || undefined,
        format: 'json'
      }),
    {},
    settings
  );
}

/**
 * The CSV of a comparison, as text.
 */
export function compareCSV(
  versions: ReadonlyArray<string>,
  dataset: string | null,
  settings?: ServerConnection.ISettings
): Promise<string> {
  return requestServerText(
    URLExt.join(API_NAMESPACE, 'models/compare') +
      query({
        versions: compareParam(versions),
        dataset: dataset || undefined,
        format: 'csv'
      }),
    { headers: { Accept: 'text/csv' } },
    settings
  );
}

/**
 * The files of a version.
 */
export async function listVersionFiles(
  id: string,
  version: number,
  settings?: ServerConnection.ISettings
): Promise<IModelFile[]> {
  const body = await requestAPI<{ items: IModelFile[] }>(
    `${versionBase(id, version)}/files`,
    {},
    settings
  );
  return body.items;
}

/**
 * The URL of one file of a version, for a plain link: the browser streams it
 * to disk (the session cookie authenticates the GET).
 */
export function versionFileURL(
  id: string,
  version: number,
  path: string,
  settings: ServerConnection.ISettings
): string {
  return apiGetURL(versionFilePath(id, version, path), {}, settings);
}

/**
 * The URL of a version's files as one ZIP, made by the service as it streams.
 */
export function versionZipURL(
  id: string,
  version: number,
  settings: ServerConnection.ISettings
): string {
  return apiGetURL(`${versionPath(id, version)}/download`, {}, settings);
}

/**
 * Delete a version and its files (409 while it is in production).
 */
export async function deleteModelVersion(
  id: string,
  version: number,
  settings?: ServerConnection.ISettings
): Promise<void> {
  await requestAPI<void>(
    versionBase(id, version),
    { method: 'DELETE' },
    settings
  );
}

/**
 * Delete a model with its versions (owner or admin; 409 while a version is in
 * production).
 */
export async function deleteModel(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<void> {
  await requestAPI<void>(base(id), { method: 'DELETE' }, settings);
}
