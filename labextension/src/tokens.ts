/**
 * Tokens, command ids and shared interfaces of the Training Zoo labextension.
 */
import { ISignal } from '@lumino/signaling';
import { Token } from '@lumino/coreutils';

import { IJob, IQueue } from './api/jobs';

/**
 * The id of the jobs plugin (also the name of its settings schema).
 */
export const JOBS_PLUGIN_ID = 'training-zoo:jobs';

/**
 * Command ids of the jobs plugin.
 */
export enum CommandIDs {
  /** Show the Jobs sidebar panel. */
  openPanel = 'tz-jobs:open-panel',
  /** Open the submit form; args `{ script?: string }`. */
  submit = 'tz-jobs:submit',
  /** Open the submit form for the python file selected in the file browser. */
  trainFile = 'tz-jobs:train-file',
  /** Open (or reveal) the view of one job; args `{ id: string }`. */
  openJob = 'tz-jobs:open-job'
}

/**
 * The shared state of the Jobs panel: the caller's jobs and the queue.
 */
export interface IJobsModel {
  /** The caller's jobs, newest first (the last successful fetch). */
  readonly jobs: ReadonlyArray<IJob>;
  /** The queue summary (the last successful fetch), `null` before the first one. */
  readonly queue: IQueue | null;
  /** The message of the last failed refresh, `null` when the last one succeeded. */
  readonly error: string | null;
  /** Whether at least one refresh has finished (successfully or not). */
  readonly loaded: boolean;
  /** Emitted after every refresh. */
  readonly changed: ISignal<IJobsModel, void>;
  /** Refresh now; resolves when the refresh has finished. */
  refresh(): Promise<void>;
}

/**
 * The token of the jobs model, for other Training Zoo plugins (e.g. models) that
 * want to react to job changes.
 */
export const ITzJobsModel = new Token<IJobsModel>(
  'training-zoo:ITzJobsModel',
  'The Training Zoo jobs model: the caller jobs and the queue, refreshed by a poll.'
);

/**
 * The id of the workspace plugin.
 */
export const WORKSPACE_PLUGIN_ID = 'training-zoo:workspace';

/**
 * The id of the datasets plugin.
 */
export const DATASETS_PLUGIN_ID = 'training-zoo:datasets';

/**
 * Command ids of the workspace plugin; the row commands act on the selected
 * row of the Workspace panel.
 */
export enum WorkspaceCommandIDs {
  openPanel = 'tz-workspace:open-panel',
  newFolder = 'tz-workspace:new-folder',
  upload = 'tz-workspace:upload',
  uploadFolder = 'tz-workspace:upload-folder',
  refresh = 'tz-workspace:refresh',
  open = 'tz-workspace:open',
  rename = 'tz-workspace:rename',
  move = 'tz-workspace:move',
  copy = 'tz-workspace:copy',
  delete = 'tz-workspace:delete',
  download = 'tz-workspace:download',
  copyToLab = 'tz-workspace:copy-to-lab',
  copyFromLab = 'tz-workspace:copy-from-lab'
}

/**
 * Command ids of the datasets plugin.
 */
export enum DatasetCommandIDs {
  openPanel = 'tz-datasets:open-panel',
  /** Create a dataset; args `{ space?, path? }` add a workspace folder to it. */
  create = 'tz-datasets:create',
  /** Open the view of a dataset; args `{ id: string }`. */
  open = 'tz-datasets:open',
  /** "Create dataset from folder" on the selected workspace folder. */
  createFromFolder = 'tz-workspace:create-dataset'
}
