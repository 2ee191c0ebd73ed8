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
