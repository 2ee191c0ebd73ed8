/**
 * `ModelsModel`: the Models panel's list, with search and filters
 * (server-side), refreshed on demand.
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { IModel, IModelQuery, listModels } from '../api/models';
import { errorMessage } from '../api/request';

/**
 * The Models panel's state.
 */
export class ModelsModel {
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  /** Emitted when the list, the filters or the loading state change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The models of the last successful fetch. */
  get items(): ReadonlyArray<IModel> {
    return this._items;
  }

  /** The total the service reported (may exceed the items shown). */
  get total(): number {
    return this._total;
  }

  get filters(): Readonly<IModelQuery> {
    return this._filters;
  }

  get loading(): boolean {
    return this._loading;
  }

  /** Whether at least one fetch has finished. */
  get loaded(): boolean {
    return this._loaded;
  }

  get error(): string | null {
    return this._error;
  }

  /**
   * Change the filters and reload.
   */
  async setFilters(filters: Partial<IModelQuery>): Promise<void> {
    this._filters = { ...this._filters, ...filters };
    await this.refresh();
  }

  /**
   * Reload the list; an older answer never replaces a newer one.
   */
  async refresh(): Promise<void> {
    const generation = ++this._generation;
    this._loading = true;
    this._changed.emit();
    try {
      const page = await listModels(
        { ...this._filters, limit: 200 },
        this.serverSettings
      );
      if (generation === this._generation) {
        this._items = page.items;
        this._total = page._pagination?.total ?? page.items.length;
        this._error = null;
      }
    } catch (error) {
      if (generation === this._generation) {
        this._error = errorMessage(error);
      }
    } finally {
      if (generation === this._generation) {
        this._loading = false;
        this._loaded = true;
        this._changed.emit();
      }
    }
  }

  private _items: IModel[] = [];
  private _total = 0;
  private _filters: IModelQuery = { q: '', task: '', stage: '', owner: '' };
  private _loading = false;
  private _loaded = false;
  private _error: string | null = null;
  private _generation = 0;
  private _changed = new Signal<this, void>(this);
}
