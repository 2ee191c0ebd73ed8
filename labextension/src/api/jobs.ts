/**
 * Typed wrappers of the jobs routes of the Training Zoo API v1 (see
 * `extensions/training_zoo/service/openapi.yaml`), plus the snapshot route of the
 * server extension. No UI here: errors are thrown as `TzResponseError`.
 */
import { ServerConnection } from '@jupyterlab/services';

import { IPage } from './paging';
import { requestAPI, requestServer, streamURL } from './request';

/**
 * The lifecycle states of a job.
 */
export type JobStatus =
  'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/**
 * The frameworks a job can use.
 */
export type Framework = 'pytorch' | 'tensorflow' | 'custom';

/**
 * The frameworks, in the order the UI offers them.
 */
export const FRAMEWORKS: ReadonlyArray<Framework> = [
  'pytorch',
  'tensorflow',
  'custom'
];

/**
 * The states after which a job never changes again.
 */
export const FINISHED_STATUSES: ReadonlyArray<JobStatus> = [
  'succeeded',
  'failed',
  'cancelled'
];

/**
 * Whether a job status is final.
 *
 * @param status - the status.
 * @returns true for succeeded, failed and cancelled.
 */
export function isFinished(status: JobStatus | string): boolean {
  return (FINISHED_STATUSES as ReadonlyArray<string>).includes(status);
}

/**
 * Per-node resources of a job (Kubeflow `resourcesPerNode`).
 */
export interface IResources {
  gpus?: number;
  cpus?: number;
  memory?: string;
}

/**
 * The body of `POST /jobs`.
 */
export interface IJobSpec {
  name: string;
  framework?: Framework;
  entry?: string;
  code?: string | null;
  command?: string[];
  args?: string[];
  snapshot?: string;
  env?: Record<string, string>;
  nodes?: number;
  procs_per_node?: number;
  resources_per_node?: IResources;
  max_retries?: number;
  timeout?: number;
  priority?: number;
  /** Dataset versions the job reads: `name:V001`, `owner/name:V001` or `name`. */
  datasets?: string[];
}

/**
 * One exact dataset version a job was given, resolved at submit.
 */
export interface IDatasetUse {
  ref: string;
  dataset_id: string;
  owner: string;
  name: string;
  version: string;
  manifest_sha256: string;
}

/**
 * A training job.
 */
export interface IJob {
  id: string;
  name: string;
  owner: string;
  framework: Framework;
  status: JobStatus;
  reason: string | null;
  message: string | null;
  spec: IJobSpec;
  attempt: number;
  queue_position: number | null;
  world_size: number;
  created: string;
  started: string | null;
  finished: string | null;
  exit_code: number | null;
  output_dir: string;
  cloned_from: string | null;
  /** The data the job used (absent from services older than the data module). */
  lineage?: { datasets: IDatasetUse[] };
}

/**
 * A lifecycle event of a job.
 */
export interface IJobEvent {
  time: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  attempt: number;
}

/**
 * One scalar record logged by a job (`training_zoo.log_metrics`).
 */
export interface IMetric {
  /** The position of the record in its rank's series. */
  seq: number;
  rank: number;
  /** The training step; `null` when the script logged none. */
  step: number | null;
  time: string;
  values: Record<string, number | null>;
}

/**
 * One log line of one rank.
 */
export interface ILogLine {
  rank: number;
  line: string;
}

/**
 * CPUs and GPUs.
 */
export interface ICapacity {
  cpus: number;
  gpus: number;
}

/**
 * The answer of `GET /queue`. `openapi.yaml` names the capacity `total` (the
 * working contract says `capacity`); both are optional, since a backend may
 * report neither.
 */
export interface IQueue {
  total?: ICapacity;
  capacity?: ICapacity;
  used?: ICapacity;
  running: number;
  queued: number;
  items: IJob[];
}

/**
 * The answer of the snapshot route.
 */
export interface ISnapshot {
  id: string;
  size: number;
  files: number;
}

/**
 * Options of `listJobs`.
 */
export interface IListJobsOptions {
  /** Only jobs in these states. */
  status?: JobStatus[];
  /** Every user's jobs (admins only). */
  all?: boolean;
  offset?: number;
  limit?: number;
}

/**
 * List the caller's jobs, newest first (`GET /jobs`).
 *
 * @param options - filters and paging (default: the first 50 jobs).
 * @param settings - the server settings.
 * @returns the jobs of the requested page.
 * @throws {TzResponseError} on an error answer.
 */
export async function listJobs(
  options: IListJobsOptions = {},
  settings?: ServerConnection.ISettings
): Promise<IJob[]> {
  const query = new URLSearchParams();
  if (options.status?.length) {
    query.set('status', options.status.join(','));
  }
  if (options.all) {
    query.set('all', 'true');
  }
  query.set('offset', String(options.offset ?? 0));
  query.set('limit', String(options.limit ?? 50));
  const page = await requestAPI<IPage<IJob>>(
    `jobs?${query.toString()}`,
    {},
    settings
  );
  return page.items;
}

/**
 * Get one job (`GET /jobs/{id}`).
 *
 * @param id - the job id.
 * @param settings - the server settings.
 * @returns the job.
 * @throws {TzResponseError} on an error answer (404 for unknown or foreign jobs).
 */
export function getJob(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<IJob> {
  return requestAPI<IJob>(Private.jobPath(id), {}, settings);
}

/**
 * Submit a job (`POST /jobs`).
 *
 * @param spec - the job spec.
 * @param settings - the server settings.
 * @returns the created job.
 * @throws {TzResponseError} on an error answer (400 with `errors` per field).
 */
export function submitJob(
  spec: IJobSpec,
  settings?: ServerConnection.ISettings
): Promise<IJob> {
  return requestAPI<IJob>(
    'jobs',
    { method: 'POST', body: JSON.stringify(spec) },
    settings
  );
}

/**
 * Pack a folder of the Lab root and upload it as a snapshot
 * (`POST <baseUrl>/tz/snapshot`, a route of the server extension).
 *
 * @param path - the folder, relative to the Lab root (`''` for the root).
 * @param settings - the server settings.
 * @returns the snapshot id, size and file count.
 * @throws {TzResponseError} on an error answer (400 for paths outside the root,
 *   413 for a folder that is too large).
 */
export function createSnapshot(
  path: string,
  settings?: ServerConnection.ISettings
): Promise<ISnapshot> {
  return requestServer<ISnapshot>(
    'tz/snapshot',
    { method: 'POST', body: JSON.stringify({ path }) },
    settings
  );
}

/**
 * Cancel a job (`POST /jobs/{id}/cancel`).
 *
 * @param id - the job id.
 * @param settings - the server settings.
 * @returns the job as the server sees it after the request.
 * @throws {TzResponseError} on an error answer.
 */
export function cancelJob(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<IJob> {
  return requestAPI<IJob>(
    `${Private.jobPath(id)}/cancel`,
    { method: 'POST' },
    settings
  );
}

/**
 * Clone a job with the same snapshot (`POST /jobs/{id}/clone`).
 *
 * @param id - the job id.
 * @param overrides - spec fields to change, e.g. `{ name: 'x' }`.
 * @param settings - the server settings.
 * @returns the new job.
 * @throws {TzResponseError} on an error answer.
 */
export function cloneJob(
  id: string,
  overrides: Partial<IJobSpec> = {},
  settings?: ServerConnection.ISettings
): Promise<IJob> {
  return requestAPI<IJob>(
    `${Private.jobPath(id)}/clone`,
    { method: 'POST', body: JSON.stringify(overrides) },
    settings
  );
}

/**
 * Delete a finished job (`DELETE /jobs/{id}`).
 *
 * @param id - the job id.
 * @param settings - the server settings.
 * @throws {TzResponseError} on an error answer (409 while the job is active).
 */
export async function deleteJob(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<void> {
  await requestAPI<void>(Private.jobPath(id), { method: 'DELETE' }, settings);
}

/**
 * The lifecycle events of a job (`GET /jobs/{id}/events`).
 *
 * @param id - the job id.
 * @param settings - the server settings.
 * @returns the events, oldest first.
 * @throws {TzResponseError} on an error answer.
 */
export async function getEvents(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<IJobEvent[]> {
  const page = await requestAPI<IPage<IJobEvent>>(
    `${Private.jobPath(id)}/events`,
    {},
    settings
  );
  return page.items;
}

/**
 * The queue summary (`GET /queue`).
 *
 * @param settings - the server settings.
 * @returns capacity, usage and the caller's queued and running jobs.
 * @throws {TzResponseError} on an error answer.
 */
export function getQueue(
  settings?: ServerConnection.ISettings
): Promise<IQueue> {
  return requestAPI<IQueue>('queue', {}, settings);
}

/**
 * The URL of the log stream of a job (all ranks), for `EventSource`.
 *
 * @param id - the job id.
 * @param settings - the server settings.
 * @returns the URL, with `follow=true`.
 */
export function logsStreamURL(
  id: string,
  settings?: ServerConnection.ISettings
): string {
  return streamURL(`${Private.jobPath(id)}/logs`, {}, settings);
}

/**
 * The URL of the metrics stream of a job, for `EventSource`.
 *
 * @param id - the job id.
 * @param since - an opaque cursor from a previous JSON answer (omit for all).
 * @param settings - the server settings.
 * @returns the URL, with `follow=true`.
 */
export function metricsStreamURL(
  id: string,
  since?: string,
  settings?: ServerConnection.ISettings
): string {
  const query: Record<string, string> = since === undefined ? {} : { since };
  return streamURL(`${Private.jobPath(id)}/metrics`, query, settings);
}

namespace Private {
  /**
   * The path of a job; ids are slugs, but never trust them in a URL.
   */
  export function jobPath(id: string): string {
    return `jobs/${encodeURIComponent(id)}`;
  }
}
