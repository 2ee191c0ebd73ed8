/**
 * `LabelingModel`: the draft files of one dataset for the labeling views,
 * loaded page by page, the current file, and saving annotations with the
 * file's `revision` (a 409 `StaleRevision` reloads that file from the answer
 * and reports it, so nobody overwrites a colleague's work).
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import {
  IAnnotations,
  IDatasetFile,
  listFiles,
  saveAnnotations
} from '../api/datasets';
import { errorMessage, TzResponseError } from '../api/request';
import { hasAnnotations, isLabeled, LabelMode, nextUnlabeled } from './keys';

const PAGE = 200; // the API's largest page

/**
 * The labeling state of one dataset's draft.
 */
export class LabelingModel {
  constructor(
    readonly datasetId: string,
    readonly mode: LabelMode,
    readonly serverSettings: ServerConnection.ISettings
  ) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted with a message when a save met someone else's newer change. */
  get conflict(): ISignal<this, string> {
    return this._conflict;
  }

  get files(): ReadonlyArray<IDatasetFile> {
    return this._files;
  }

  get index(): number {
    return this._index;
  }

  get current(): IDatasetFile | null {
    return this._files[this._index] ?? null;
  }

  /** The draft's file count (from the server), or the loaded count. */
  get total(): number {
    return Math.max(this._total, this._files.length);
  }

  /**
   * Labeled files in the whole draft: the server's count when the labeling
   * started, moved by every change seen since (the loaded pages alone would
   * undercount a draft of more than one page).
   */
  get labeledCount(): number {
    if (this._labeledAtStart === null) {
      return this._files.filter(f => hasAnnotations(f.annotations)).length;
    }
    return Math.min(
      this.total,
      Math.max(0, this._labeledAtStart + this._labeledDelta)
    );
  }

  get error(): string | null {
    return this._error;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  /**
   * Load the first pages.
   *
   * @param labeledOnServer - the draft's labeled files as the server counted
   *   them (`draft.labeled`), the base of `labeledCount`.
   */
  async start(labeledOnServer?: number): Promise<void> {
    this._labeledAtStart = labeledOnServer ?? null;
    await this._loadMore();
    this._loaded = true;
    const first = this._files.findIndex(
      f => !isLabeled(f.annotations, this.mode)
    );
    this._index = first >= 0 ? first : 0;
    this._changed.emit();
  }

  /**
   * Take the server's count again (the view reloaded the dataset while
   * another tab was open, and colleagues may have labeled meanwhile).
   *
   * @param labeledOnServer - the draft's `labeled` as the server counts it.
   */
  rebase(labeledOnServer: number): void {
    this._labeledAtStart = labeledOnServer;
    this._labeledDelta = 0;
    this._changed.emit();
  }

  /** Go to a file. */
  go(index: number): void {
    if (index >= 0 && index < this._files.length) {
      this._index = index;
      this._changed.emit();
    }
  }

  /** The previous file. */
  previous(): void {
    this.go(this._index - 1);
  }

  /** The next unlabeled file (loading further pages when needed). */
  async nextUnlabeled(): Promise<void> {
    for (;;) {
      const labeled = this._files.map(f => isLabeled(f.annotations, this.mode));
      // Look forward only in what is loaded; wrap once all is loaded.
      const i = nextUnlabeled(labeled, this._index);
      if (i > this._index || (i >= 0 && !this._hasMore)) {
        this.go(i);
        return;
      }
      if (!this._hasMore) {
        this.go(Math.min(this._index + 1, this._files.length - 1));
        return;
      }
      await this._loadMore();
    }
  }

  /**
   * Save the annotations of a file with its latest known revision. Call one
   * at a time per file (the labelers queue their saves).
   *
   * @param key - the file's key.
   * @param annotations - the new annotations.
   * @returns true when saved; false on a conflict (the file is reloaded).
   */
  async save(key: string, annotations: IAnnotations): Promise<boolean> {
    const index = this._files.findIndex(f => f.key === key);
    const file = this._files[index];
    if (!file) {
      return false;
    }
    try {
      const saved = await saveAnnotations(
        this.datasetId,
        { key: file.key, revision: file.revision ?? 0, annotations },
        this.serverSettings
      );
      this._replace(index, saved);
      this._error = null;
      this._changed.emit();
      return true;
    } catch (error) {
      if (
        error instanceof TzResponseError &&
        error.status === 409 &&
        error.reason === 'StaleRevision'
      ) {
        const current = (error.errors as unknown as { current?: IDatasetFile })
          .current;
        if (current && current.key === file.key) {
          this._replace(index, current);
        }
        this._changed.emit();
        this._conflict.emit(
          `${file.key}: ${current?.updated_by ?? 'someone'} changed this file meanwhile; it was reloaded, please check it again.`
        );
        return false;
      }
      this._error = errorMessage(error);
      this._changed.emit();
      throw error;
    }
  }

  /** Put a file's newer state in place, counting a change of labeled. */
  private _replace(index: number, file: IDatasetFile): void {
    const was = hasAnnotations(this._files[index].annotations);
    const is = hasAnnotations(file.annotations);
    this._labeledDelta += Number(is) - Number(was);
    this._files[index] = file;
  }

  private async _loadMore(): Promise<void> {
    try {
      const page = await listFiles(
        this.datasetId,
        { offset: this._files.length, limit: PAGE },
        this.serverSettings
      );
      this._files = this._files.concat(page.items);
      this._total = page._pagination?.total ?? this._files.length;
      this._hasMore =
        page.items.length === PAGE && this._files.length < this._total;
      this._error = null;
    } catch (error) {
      this._error = errorMessage(error);
      this._hasMore = false;
    }
    this._changed.emit();
  }

  private _files: IDatasetFile[] = [];
  private _labeledAtStart: number | null = null;
  private _labeledDelta = 0;
  private _index = 0;
  private _total = 0;
  private _hasMore = true;
  private _loaded = false;
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
  private _conflict = new Signal<this, string>(this);
}
