/**
 * The models of the jobs domain: `JobsModel` (the caller's jobs and the queue,
 * for the sidebar) and `JobModel` (one job: status, events, log and metrics
 * streams, for the job view).
 */
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { IPoll, Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  cancelJob,
  cloneJob,
  getEvents,
  getJob,
  getQueue,
  IJob,
  IJobEvent,
  ILogLine,
  IMetric,
  IQueue,
  isFinished,
  listJobs,
  logsStreamURL,
  metricsStreamURL
} from '../api/jobs';
import { errorMessage } from '../api/request';
import { followStream, IStream } from '../api/stream';
import { IJobsModel } from '../tokens';

/**
 * The caller's jobs and the queue, refreshed by a `Poll` with backoff that
 * stands by while the panel or the page is hidden.
 */
export class JobsModel implements IJobsModel, IDisposable {
  /**
   * Create the model; polling starts at once.
   *
   * @param options - the server settings and the refresh interval.
   */
  constructor(options: JobsModel.IOptions) {
    this._serverSettings = options.serverSettings;
    this._poll = new Poll({
      name: 'training-zoo:jobs',
      factory: () => this._fetch(),
      frequency: Private.frequency(options.refreshInterval),
      // Nobody looks at the list while the panel is collapsed.
      standby: () => !this._active || 'when-hidden'
    });
  }

  /** The caller's jobs, newest first. */
  get jobs(): ReadonlyArray<IJob> {
    return this._jobs;
  }

  /** The queue summary, `null` before the first successful fetch. */
  get queue(): IQueue | null {
    return this._queue;
  }

  /** The message of the last failed job list fetch, or `null`. */
  get jobsError(): string | null {
    return this._jobsError;
  }

  /** The message of the last failed queue fetch, or `null`. */
  get queueError(): string | null {
    return this._queueError;
  }

  /** The first error of the last refresh, or `null`. */
  get error(): string | null {
    return this._jobsError ?? this._queueError;
  }

  /** Whether at least one refresh has finished. */
  get loaded(): boolean {
    return this._loaded;
  }

  /** Emitted after every refresh. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * Whether the panel is visible; polling stands by while it is not.
   */
  get active(): boolean {
    return this._active;
  }
  set active(value: boolean) {
    this._active = value;
  }

  /**
   * The refresh interval in milliseconds.
   */
  set refreshInterval(ms: number) {
    this._poll.frequency = Private.frequency(ms);
  }

  /** Whether the model is disposed. */
  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /**
   * Refresh now (unless polling stands by); resolves after the refresh.
   */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  /**
   * Stop polling and disconnect all listeners.
   */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    const [jobs, queue] = await Promise.allSettled([
      listJobs({}, this._serverSettings),
      getQueue(this._serverSettings)
    ]);
    if (jobs.status === 'fulfilled') {
      this._jobs = jobs.value;
      this._jobsError = null;
    } else {
      this._jobsError = errorMessage(jobs.reason);
    }
    if (queue.status === 'fulfilled') {
      this._queue = queue.value;
      this._queueError = null;
    } else {
      this._queueError = errorMessage(queue.reason);
    }
    this._loaded = true;
    this._changed.emit();
    if (jobs.status === 'rejected') {
      // Rejecting makes the poll back off.
      throw jobs.reason;
    }
    if (queue.status === 'rejected') {
      throw queue.reason;
    }
  }

  private _serverSettings: ServerConnection.ISettings;
  private _poll: Poll;
  private _active = false;
  private _loaded = false;
  private _jobs: IJob[] = [];
  private _queue: IQueue | null = null;
  private _jobsError: string | null = null;
  private _queueError: string | null = null;
  private _changed = new Signal<this, void>(this);
}

/**
 * The namespace of `JobsModel`.
 */
export namespace JobsModel {
  /**
   * Options of the jobs model.
   */
  export interface IOptions {
    /** The server settings of the Lab. */
    serverSettings: ServerConnection.ISettings;
    /** The refresh interval in milliseconds. */
    refreshInterval: number;
  }
}

/**
 * One log line as kept by `JobModel`.
 */
export interface ILogEntry {
  /** A serial number, unique within the model (a stable React key). */
  n: number;
  rank: number;
  /** The line, with ANSI escapes removed and only its last `\r` segment. */
  text: string;
}

/**
 * The state of a followed stream.
 */
export type StreamState = 'connecting' | 'streaming' | 'ended' | 'failed';

/**
 * One job: its status (polled about every second until it finishes), its
 * events, and its logs and metrics (followed over server-sent events).
 */
export class JobModel implements IDisposable {
  /**
   * Create the model; nothing is fetched before `start()`.
   *
   * @param options - the job id, server settings and limits.
   */
  constructor(options: JobModel.IOptions) {
    this.id = options.id;
    this._serverSettings = options.serverSettings;
    this._maxLogLines = Math.max(100, options.maxLogLines);
    this._poll = new Poll({
      name: `training-zoo:job:${options.id}`,
      auto: false,
      factory: () => this._fetch(),
      frequency: {
        interval: options.refreshInterval,
        backoff: true,
        max: 30_000
      },
      standby: 'when-hidden'
    });
  }

  /** The job id. */
  readonly id: string;

  /** The job, `null` before the first successful fetch. */
  get job(): IJob | null {
    return this._job;
  }

  /** The message of the last failed status fetch, or `null`. */
  get error(): string | null {
    return this._error;
  }

  /** The job's events, oldest first. */
  get events(): ReadonlyArray<IJobEvent> {
    return this._events;
  }

  /** The last log lines (at most `maxLogLines`), all ranks. */
  get logs(): ReadonlyArray<ILogEntry> {
    return this._logs;
  }

  /** How many old log lines were dropped to respect `maxLogLines`. */
  get droppedLines(): number {
    return this._dropped;
  }

  /** The ranks known so far: `0 … world_size - 1` plus any rank seen in logs. */
  get ranks(): number[] {
    const ranks = new Set(this._seenRanks);
    for (let r = 0; r < (this._job?.world_size ?? 0); r++) {
      ranks.add(r);
    }
    return [...ranks].sort((a, b) => a - b);
  }

  /** The metric records received so far, in arrival order. */
  get metrics(): ReadonlyArray<IMetric> {
    return this._metrics;
  }

  /** The state of the log stream. */
  get logsState(): StreamState {
    return this._logsState;
  }

  /** The state of the metrics stream. */
  get metricsState(): StreamState {
    return this._metricsState;
  }

  /** Whether the job has reached a final status. */
  get finished(): boolean {
    return !!this._job && isFinished(this._job.status);
  }

  /** Emitted (at most every 100 ms) when anything changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether the model is disposed. */
  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * Start polling the status and following the streams.
   */
  start(): void {
    if (this._started || this._disposed) {
      return;
    }
    this._started = true;
    void this._poll.start();
    this._openLogs();
    this._openMetrics();
  }

  /**
   * Cancel the job.
   *
   * @returns the job after the request.
   * @throws {TzResponseError} on an error answer.
   */
  async cancel(): Promise<IJob> {
    const job = await cancelJob(this.id, this._serverSettings);
    this._setJob(job);
    void this._poll.refresh();
    return job;
  }

  /**
   * Clone the job (same snapshot and spec, new id).
   *
   * @returns the new job.
   * @throws {TzResponseError} on an error answer.
   */
  clone(): Promise<IJob> {
    return cloneJob(this.id, {}, this._serverSettings);
  }

  /**
   * Stop polling, close the streams and disconnect all listeners.
   */
  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._poll.dispose();
    this._logStream?.close();
    this._metricsStream?.close();
    window.clearTimeout(this._logsRetry);
    window.clearTimeout(this._metricsRetry);
    window.clearTimeout(this._emitTimer);
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    let job: IJob;
    try {
      job = await getJob(this.id, this._serverSettings);
    } catch (error) {
      this._error = errorMessage(error);
      this._emitSoon();
      throw error;
    }
    const previous = this._job;
    this._error = null;
    this._setJob(job);
    const now = Date.now();
    const changed =
      !previous ||
      previous.status !== job.status ||
      previous.attempt !== job.attempt;
    if (changed || this.finished || now - this._eventsFetched >= 5000) {
      this._eventsFetched = now;
      try {
        this._events = await getEvents(this.id, this._serverSettings);
      } catch {
        // Events are secondary: keep the last ones, retry on the next tick.
        this._eventsFetched = 0;
      }
      this._emitSoon();
    }
    if (this.finished) {
      // A finished job never changes again.
      void this._poll.stop();
    }
  }

  private _setJob(job: IJob): void {
    this._job = job;
    this._emitSoon();
  }

  private _openLogs(): void {
    if (this._disposed) {
      return;
    }
    this._logsState = 'connecting';
    // The stream replays from the start: after a reconnection, the replay
    // replaces what was received before (once it starts, to avoid a blank view).
    let reset = this._logsAttempts > 0;
    const clear = () => {
      if (reset) {
        reset = false;
        this._logs = [];
        this._dropped = 0;
        this._logsVersion++;
      }
    };
    this._logStream = followStream<ILogLine>(
      logsStreamURL(this.id, this._serverSettings),
      {
        onData: data => {
          clear();
          this._logsAttempts = 0;
          this._logsState = 'streaming';
          this._appendLog(data);
        },
        onEnd: () => {
          clear();
          this._logsState = 'ended';
          this._emitSoon();
        },
        onError: () => {
          this._logsState = 'failed';
          this._emitSoon();
          const delay = this._retryDelay(++this._logsAttempts);
          if (delay !== null) {
            this._logsRetry = window.setTimeout(() => this._openLogs(), delay);
          }
        }
      }
    );
    this._emitSoon();
  }

  private _openMetrics(): void {
    if (this._disposed) {
      return;
    }
    this._metricsState = 'connecting';
    // The SSE stream carries no resume cursor: a reconnection replays every
    // record, which then replaces what was received before.
    let reset = this._metricsAttempts > 0;
    const clear = () => {
      if (reset) {
        reset = false;
        this._metrics = [];
        this._metricsVersion++;
      }
    };
    this._metricsStream = followStream<IMetric>(
      metricsStreamURL(this.id, undefined, this._serverSettings),
      {
        onData: metric => {
          clear();
          this._metricsAttempts = 0;
          this._metricsState = 'streaming';
          this._metrics.push(metric);
          if (this._metrics.length > Private.MAX_METRICS) {
            this._metrics.splice(0, this._metrics.length - Private.MAX_METRICS);
          }
          this._metricsVersion++;
          this._emitSoon();
        },
        onEnd: () => {
          clear();
          this._metricsState = 'ended';
          this._emitSoon();
        },
        onError: () => {
          this._metricsState = 'failed';
          this._emitSoon();
          const delay = this._retryDelay(++this._metricsAttempts);
          if (delay !== null) {
            this._metricsRetry = window.setTimeout(
              () => this._openMetrics(),
              delay
            );
          }
        }
      }
    );
    this._emitSoon();
  }

  /**
   * The delay before reconnecting a stream, or `null` to give up: keep trying
   * (with backoff) while the job may still produce output, a few times after.
   */
  private _retryDelay(attempts: number): number | null {
    if (this._disposed || (this.finished && attempts > 3)) {
      return null;
    }
    return Math.min(30_000, 1000 * 2 ** Math.min(attempts - 1, 5));
  }

  private _appendLog(data: ILogLine): void {
    const rank = typeof data.rank === 'number' ? data.rank : 0;
    this._seenRanks.add(rank);
    this._logsVersion++;
    this._logs.push({
      n: this._serial++,
      rank,
      text: Private.cleanLine(String(data.line ?? ''))
    });
    // Trim in batches so that a long stream does not shift the array per line.
    const excess = this._logs.length - this._maxLogLines;
    if (excess > this._maxLogLines / 10) {
      this._logs.splice(0, excess);
      this._dropped += excess;
    }
    this._emitSoon();
  }

  /** Version of `logs`, bumped on every change (a memo key). */
  get logsVersion(): number {
    return this._logsVersion;
  }

  /** Version of `metrics`, bumped on every new record (a memo key). */
  get metricsVersion(): number {
    return this._metricsVersion;
  }

  private _emitSoon(): void {
    if (this._emitTimer || this._disposed) {
      return;
    }
    this._emitTimer = window.setTimeout(() => {
      this._emitTimer = 0;
      if (!this._disposed) {
        this._changed.emit();
      }
    }, 100);
  }

  private _serverSettings: ServerConnection.ISettings;
  private _maxLogLines: number;
  private _poll: Poll;
  private _started = false;
  private _disposed = false;
  private _job: IJob | null = null;
  private _error: string | null = null;
  private _events: IJobEvent[] = [];
  private _eventsFetched = 0;
  private _logs: ILogEntry[] = [];
  private _dropped = 0;
  private _logsVersion = 0;
  private _serial = 0;
  private _seenRanks = new Set<number>();
  private _logStream: IStream | null = null;
  private _logsState: StreamState = 'connecting';
  private _logsAttempts = 0;
  private _logsRetry = 0;
  private _metrics: IMetric[] = [];
  private _metricsVersion = 0;
  private _metricsStream: IStream | null = null;
  private _metricsState: StreamState = 'connecting';
  private _metricsAttempts = 0;
  private _metricsRetry = 0;
  private _emitTimer = 0;
  private _changed = new Signal<this, void>(this);
}

/**
 * The namespace of `JobModel`.
 */
export namespace JobModel {
  /**
   * Options of a job model.
   */
  export interface IOptions {
    /** The job id. */
    id: string;
    /** The server settings of the Lab. */
    serverSettings: ServerConnection.ISettings;
    /** The status refresh interval in milliseconds. */
    refreshInterval: number;
    /** The most log lines kept in memory. */
    maxLogLines: number;
  }
}

namespace Private {
  /**
   * The most metric records kept in memory.
   */
  export const MAX_METRICS = 50_000;

  // ANSI CSI/OSC escape sequences (colours, cursor moves) that tools such as
  // tqdm write; the log view shows plain text.
  const ANSI = new RegExp(
    // eslint-disable-next-line no-control-regex
    '\u001b(?:\\[[0-?]*[ -/]*[@-~]|\\][^\u0007]*(?:\u0007|\u001b\\\\))',
    'g'
  );

  /**
   * A log line as a terminal would show it.
   */
  export function cleanLine(line: string): string {
    const plain = line.replace(ANSI, '').replace(/\r+$/, '');
    const cr = plain.lastIndexOf('\r');
    return cr < 0 ? plain : plain.slice(cr + 1);
  }

  /**
   * The poll frequency for a refresh interval.
   */
  export function frequency(ms: number): IPoll.Frequency {
    return { interval: Math.max(1000, ms), backoff: true, max: 300_000 };
  }
}
