/**
 * `UploadManager`: the browser side of resumable uploads. Every file goes
 * through an upload session in parts (`File.slice`, a few parts in flight, the
 * file is never read whole), retries failed parts with backoff, can be
 * cancelled (the session is deleted), and can be resumed after a reload: the
 * session's `{id, name, size, lastModified, space, path}` is kept in
 * localStorage and, once the user picks the same file again, only the parts
 * the server lacks are sent.
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { errorMessage, TzResponseError } from '../api/request';
import {
  abortUpload,
  completeUpload,
  createUpload,
  getUpload,
  listUploads
} from '../api/uploads';
import { IWorkspaceItem } from '../api/workspace';
import {
  backoffDelay,
  IPartPlan,
  IPartReceipt,
  isRetryable,
  missingParts,
  partsToVerify,
  planParts,
  receivedBytes,
  sameFile
} from './plan';
import { crc32OfBlob } from './crc32';
import { RateMeter, secondsLeft } from './rate';
import { UploadStore } from './store';
import { PartError, sendPart } from './transport';

/**
 * The states of one file's upload.
 */
export type UploadState =
  | 'queued'
  | 'uploading'
  | 'completing'
  | 'done'
  | 'failed'
  | 'cancelled'
  | 'interrupted';

/**
 * One file being uploaded (read-only for views).
 */
export interface IUploadTask {
  /** A local id, unique in this page. */
  readonly key: string;
  /** The file name shown (the relative path inside a dropped folder). */
  readonly label: string;
  readonly space: string;
  /** The target path in the space. */
  readonly path: string;
  readonly size: number;
  readonly lastModified: number;
  readonly sent: number;
  readonly state: UploadState;
  readonly error: string | null;
  /** The server session id, once created. */
  readonly uploadId: string | null;
  /** Parts retried so far. */
  readonly retries: number;
}

/**
 * The uploads of a page taken together (see `UploadManager.totals`).
 */
export interface IUploadTotals {
  sent: number;
  size: number;
  /** Tasks still queued, uploading or completing. */
  active: number;
  failed: number;
  done: number;
  /** Bytes per second over the last seconds, or null. */
  rate: number | null;
  /** Seconds still needed at `rate`, or null. */
  secondsLeft: number | null;
}

/**
 * A file to upload and where it goes.
 */
export interface IUploadRequest {
  file: File;
  space: string;
  path: string;
  /** The name to show; default: the path. */
  label?: string;
}

/**
 * The states in which a task is finished for good.
 */
const FINAL: ReadonlyArray<UploadState> = ['done', 'cancelled'];

/**
 * Uploads files into the workspace through resumable sessions.
 */
export class UploadManager {
  /**
   * @param options - server settings and tuning.
   */
  constructor(options: UploadManager.IOptions) {
    this._settings = options.serverSettings;
    this._store = options.store ?? new UploadStore();
    const concurrency = options.partConcurrency ?? 4;
    this._partSlots = new Semaphore(concurrency);
    // As many parts again may have their CRC32 ready while they wait for a slot.
    this._readySlots = new Semaphore(2 * concurrency);
    this._fileConcurrency = options.fileConcurrency ?? 6;
    this._maxRetries = options.maxRetries ?? 5;
  }

  /** Emitted (at most every 100 ms) when any task changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted when a file has been uploaded, with its workspace item. */
  get completed(): ISignal<this, { task: IUploadTask; item: IWorkspaceItem }> {
    return this._completed;
  }

  /** All tasks, in the order they were added. */
  get tasks(): ReadonlyArray<IUploadTask> {
    return this._tasks;
  }

  /**
   * Bytes sent and to send over the tasks that are not cancelled, the rate
   * of the last seconds (bytes per second) and the seconds still needed at it
   * (both null until a second of sending has been seen, and when idle).
   */
  get totals(): IUploadTotals {
    let sent = 0;
    let size = 0;
    let active = 0;
    let failed = 0;
    let done = 0;
    for (const t of this._tasks) {
      if (t.state === 'cancelled') {
        continue;
      }
      sent += Math.min(t.sent, t.size);
      size += t.size;
      if (t.state === 'failed') {
        failed++;
      } else if (t.state === 'done') {
        done++;
      } else if (t.state !== 'interrupted') {
        active++;
      }
    }
    const rate = active > 0 ? this._meter.rate(Date.now()) : null;
    return {
      sent,
      size,
      active,
      failed,
      done,
      rate,
      secondsLeft: secondsLeft(size - sent, rate)
    };
  }

  /**
   * Queue files for upload.
   *
   * @param requests - the files and their targets.
   */
  add(requests: ReadonlyArray<IUploadRequest>): void {
    for (const r of requests) {
      this._tasks.push(
        new Task({
          key: `u${++this._counter}`,
          label: r.label ?? r.path,
          space: r.space,
          path: r.path,
          size: r.file.size,
          lastModified: r.file.lastModified,
          file: r.file,
          uploadId: null
        })
      );
    }
    this._notify(true);
    this._pump();
  }

  /**
   * List the interrupted uploads of an earlier page (from localStorage),
   * dropping those whose session no longer exists on the server.
   */
  async restore(): Promise<void> {
    const records = this._store.load();
    if (records.length === 0) {
      return;
    }
    let open: Set<string> | null = null;
    try {
      open = new Set((await listUploads(this._settings)).map(s => s.id));
    } catch {
      // Keep them all; a resume will find out.
    }
    for (const record of records) {
      if (open && !open.has(record.id)) {
        this._store.remove(record.id);
        continue;
      }
      if (this._tasks.some(t => t.uploadId === record.id)) {
        continue;
      }
      const task = new Task({
        key: `u${++this._counter}`,
        label: record.path,
        space: record.space,
        path: record.path,
        size: record.size,
        lastModified: record.lastModified,
        file: null,
        uploadId: record.id
      });
      task.fileName = record.name;
      task.state = 'interrupted';
      this._tasks.push(task);
    }
    this._notify(true);
  }

  /**
   * Resume an interrupted upload with the file the user picked again.
   *
   * @param key - the task.
   * @param file - the picked file.
   * @returns false when the file is not the one that was being sent.
   */
  resume(key: string, file: File): boolean {
    const task = this._find(key);
    if (!task || task.state !== 'interrupted' || !task.uploadId) {
      return false;
    }
    const record = {
      id: task.uploadId,
      name: task.fileName,
      size: task.size,
      lastModified: task.lastModified,
      space: task.space,
      path: task.path
    };
    if (!sameFile(record, file)) {
      return false;
    }
    task.file = file;
    task.state = 'queued';
    task.error = null;
    this._notify(true);
    this._pump();
    return true;
  }

  /**
   * Retry a failed upload: only the parts the server lacks are sent.
   *
   * @param key - the task.
   */
  retry(key: string): void {
    const task = this._find(key);
    if (!task || task.state !== 'failed' || !task.file) {
      return;
    }
    task.state = 'queued';
    task.error = null;
    this._notify(true);
    this._pump();
  }

  /**
   * Cancel an upload: stop its requests and delete its session.
   *
   * @param key - the task.
   */
  async cancel(key: string): Promise<void> {
    const task = this._find(key);
    if (!task || FINAL.includes(task.state)) {
      return;
    }
    task.state = 'cancelled';
    task.controller?.abort();
    this._notify(true);
    const id = task.uploadId;
    if (id) {
      this._store.remove(id);
      try {
        await abortUpload(id, this._settings);
      } catch (error) {
        if (!(error instanceof TzResponseError && error.status === 404)) {
          console.warn(`Training Zoo: could not abort upload ${id}`, error);
        }
      }
    }
    this._pump();
  }

  /**
   * Cancel every unfinished upload.
   */
  async cancelAll(): Promise<void> {
    await Promise.all(
      this._tasks
        .filter(t => !FINAL.includes(t.state) && t.state !== 'failed')
        .map(t => this.cancel(t.key))
    );
  }

  /**
   * Forget finished, cancelled (and, with `failed`, failed) tasks.
   */
  clearFinished(): void {
    this._tasks = this._tasks.filter(t => !FINAL.includes(t.state));
    this._notify(true);
  }

  /**
   * Forget one interrupted upload (and abort its server session).
   *
   * @param key - the task.
   */
  async discard(key: string): Promise<void> {
    await this.cancel(key);
    this._tasks = this._tasks.filter(t => t.key !== key);
    this._notify(true);
  }

  private _find(key: string): Task | undefined {
    return this._tasks.find(t => t.key === key);
  }

  /**
   * Start queued tasks up to the file concurrency.
   */
  private _pump(): void {
    for (const task of this._tasks) {
      if (this._running >= this._fileConcurrency) {
        return;
      }
      if (task.state === 'queued' && !task.running) {
        task.running = true;
        this._running++;
        void this._run(task).finally(() => {
          task.running = false;
          this._running--;
          if (this._running === 0) {
            this._meter.reset(); // the next batch's rate starts afresh
          }
          this._notify();
          this._pump();
        });
      }
    }
  }

  /**
   * Upload one file: open (or look up) its session, send the missing parts,
   * complete.
   */
  private async _run(task: Task): Promise<void> {
    const file = task.file!;
    const controller = new AbortController();
    task.controller = controller;
    task.state = 'uploading';
    task.inflight.clear();
    this._notify();
    try {
      let partSize: number;
      let received: IPartReceipt[] = [];
      if (!task.uploadId) {
        const session = await createUpload(
          { space: task.space, path: task.path, size: task.size },
          this._settings
        );
        task.uploadId = session.id;
        partSize = session.part_size;
        if (session.parts > 1) {
          this._store.put({
            id: session.id,
            name: file.name,
            size: file.size,
            lastModified: file.lastModified,
            space: task.space,
            path: task.path
          });
        }
      } else {
        const session = await getUpload(task.uploadId, this._settings);
        partSize = session.part_size;
        received = await this._keptParts(
          task,
          file,
          planParts(task.size, partSize),
          session.received
        );
      }
      if (this._stopped(task)) {
        return;
      }
      const plan = planParts(task.size, partSize);
      const todo = missingParts(plan, received);
      task.doneBytes = receivedBytes(plan, received);
      task.sync();
      this._notify();
      await Promise.all(todo.map(part => this._sendPart(task, file, part)));
      if (this._stopped(task)) {
        return;
      }
      task.state = 'completing';
      this._notify();
      const item = await completeUpload(task.uploadId, this._settings);
      task.state = 'done';
      task.doneBytes = task.size;
      task.sync();
      this._store.remove(task.uploadId);
      this._completed.emit({ task, item });
    } catch (error) {
      if (this._stopped(task)) {
        return;
      }
      controller.abort(); // stop the other parts of this file
      task.state = 'failed';
      task.error = errorMessage(error);
      if (error instanceof TzResponseError && error.status === 404) {
        // The session is gone (expired or swept): start over on retry.
        if (task.uploadId) {
          this._store.remove(task.uploadId);
        }
        task.uploadId = null;
        task.doneBytes = 0;
        task.sync();
      }
    } finally {
      this._notify();
    }
  }

  /**
   * The received parts to keep when resuming: a part whose stored CRC32 differs
   * from the same bytes of the file picked now (the file changed since the
   * interrupted upload) is left out, so it is sent again.
   */
  private async _keptParts(
    task: Task,
    file: File,
    plan: IPartPlan[],
    received: IPartReceipt[]
  ): Promise<IPartReceipt[]> {
    const changed = new Set<number>();
    for (const { part, crc32 } of partsToVerify(plan, received)) {
      const mine = await crc32OfBlob(
        file.slice(part.start, part.end),
        task.controller!.signal
      );
      if (mine !== crc32) {
        changed.add(part.number);
      }
    }
    return received.filter(r => !changed.has(r.number));
  }

  /**
   * Send one part, waiting for a part slot, retrying with backoff.
   *
   * The part's CRC32 is computed before it waits for a slot: reading and
   * checksumming 16 MiB takes the page tens of milliseconds, during which a
   * slot that computed it would leave its connection idle.
   */
  private async _sendPart(
    task: Task,
    file: File,
    part: IPartPlan
  ): Promise<void> {
    const releaseReady = await this._readySlots.acquire();
    try {
      let ready: string | null = null;
      if (!this._stopped(task) && !task.controller!.signal.aborted) {
        try {
          ready = await crc32OfBlob(
            file.slice(part.start, part.end),
            task.controller!.signal
          );
        } catch {
          ready = null; // the attempt below reads it again and reports why
        }
      }
      await this._sendReadyPart(task, file, part, ready);
    } finally {
      releaseReady();
    }
  }

  private async _sendReadyPart(
    task: Task,
    file: File,
    part: IPartPlan,
    ready: string | null
  ): Promise<void> {
    const release = await this._partSlots.acquire();
    try {
      for (let attempt = 0; ; attempt++) {
        if (this._stopped(task) || task.controller!.signal.aborted) {
          throw new PartError('cancelled', 0, true);
        }
        try {
          const blob = file.slice(part.start, part.end);
          // A retry reads the part again: the file may have changed.
          const checksum =
            ready ?? (await crc32OfBlob(blob, task.controller!.signal));
          ready = null;
          await sendPart(
            task.uploadId!,
            part.number,
            blob,
            checksum,
            this._settings,
            loaded => {
              const before = task.inflight.get(part.number) ?? 0;
              this._meter.add(loaded - before, Date.now());
              task.inflight.set(part.number, loaded);
              task.sync();
              this._notify();
            },
            task.controller!.signal
          );
          task.inflight.delete(part.number);
          task.doneBytes += part.end - part.start;
          task.sync();
          this._notify();
          return;
        } catch (error) {
          task.inflight.delete(part.number);
          task.sync();
          const status = error instanceof PartError ? error.status : 0;
          // Cancelling also stops the checksum's read, which throws no PartError.
          const aborted =
            (error instanceof PartError && error.aborted) ||
            task.controller!.signal.aborted;
          const message = error instanceof Error ? error.message : '';
          if (
            aborted ||
            !isRetryable(status, message) ||
            attempt >= this._maxRetries
          ) {
            throw error;
          }
          task.retries++;
          this._notify();
          await delay(backoffDelay(attempt), task.controller!.signal);
        }
      }
    } finally {
      release();
    }
  }

  private _stopped(task: Task): boolean {
    return task.state === 'cancelled';
  }

  /**
   * Emit `changed`, throttled (progress events come very often).
   */
  private _notify(now = false): void {
    if (now) {
      if (this._timer !== null) {
        window.clearTimeout(this._timer);
        this._timer = null;
      }
      this._changed.emit();
      return;
    }
    if (this._timer === null) {
      this._timer = window.setTimeout(() => {
        this._timer = null;
        this._changed.emit();
      }, 100);
    }
  }

  private _settings: ServerConnection.ISettings;
  private _store: UploadStore;
  private _partSlots: Semaphore;
  private _readySlots: Semaphore;
  private _fileConcurrency: number;
  private _maxRetries: number;
  private _meter = new RateMeter();
  private _tasks: Task[] = [];
  private _counter = 0;
  private _running = 0;
  private _timer: number | null = null;
  private _changed = new Signal<this, void>(this);
  private _completed = new Signal<
    this,
    { task: IUploadTask; item: IWorkspaceItem }
  >(this);
}

/**
 * The namespace of `UploadManager`.
 */
export namespace UploadManager {
  /**
   * Options of the manager.
   */
  export interface IOptions {
    serverSettings: ServerConnection.ISettings;
    store?: UploadStore;
    /** Parts in flight over all files (default 4). */
    partConcurrency?: number;
    /** Files uploading at once (default 6; small files are latency-bound). */
    fileConcurrency?: number;
    /** Retries of one part before the file fails (default 5). */
    maxRetries?: number;
  }
}

/**
 * The mutable state behind `IUploadTask`.
 */
class Task implements IUploadTask {
  constructor(init: {
    key: string;
    label: string;
    space: string;
    path: string;
    size: number;
    lastModified: number;
    file: File | null;
    uploadId: string | null;
  }) {
    this.key = init.key;
    this.label = init.label;
    this.space = init.space;
    this.path = init.path;
    this.size = init.size;
    this.lastModified = init.lastModified;
    this.file = init.file;
    this.fileName = init.file?.name ?? '';
    this.uploadId = init.uploadId;
  }

  /** Recompute `sent` from the finished parts and those in flight. */
  sync(): void {
    let sent = this.doneBytes;
    for (const loaded of this.inflight.values()) {
      sent += loaded;
    }
    this.sent = Math.min(this.size, sent);
  }

  readonly key: string;
  readonly label: string;
  readonly space: string;
  readonly path: string;
  readonly size: number;
  readonly lastModified: number;
  file: File | null;
  fileName: string;
  uploadId: string | null;
  state: UploadState = 'queued';
  error: string | null = null;
  sent = 0;
  doneBytes = 0;
  retries = 0;
  inflight = new Map<number, number>();
  controller: AbortController | null = null;
  running = false;
}

/**
 * A counting semaphore.
 */
class Semaphore {
  constructor(private _free: number) {}

  /** Wait for a slot; call the returned function to give it back. */
  acquire(): Promise<() => void> {
    return new Promise(resolve => {
      const grant = () => {
        this._free--;
        let released = false;
        resolve(() => {
          if (!released) {
            released = true;
            this._free++;
            this._waiting.shift()?.();
          }
        });
      };
      if (this._free > 0) {
        grant();
      } else {
        this._waiting.push(grant);
      }
    });
  }

  private _waiting: Array<() => void> = [];
}

/**
 * Wait `ms`, or less when `signal` aborts.
 */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const handle = window.setTimeout(done, ms);
    signal.addEventListener('abort', done);
    function done() {
      window.clearTimeout(handle);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
