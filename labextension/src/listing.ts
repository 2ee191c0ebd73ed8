/**
 * `FilteredList`: the state of a sidebar list with search and filters
 * (server-side), refreshed on demand; the Datasets and Models panels' models.
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { IPage } from './api/paging';
import { errorMessage } from './api/request';

/**
 * The filters every list has: the search text and paging.
 */
export interface IListQuery {
  q?: string;
  limit?: number;
}

/**
 * A list route: a page of the items that pass the filters.
 */
export type ListFetcher<T, Q> = (
  filters: Q,
  settings?: ServerConnection.ISettings
) => Promise<IPage<T>>;

/**
 * A list with search and filters.
 */
export class FilteredList<T, Q extends IListQuery> {
  /**
   * @param serverSettings - the server settings.
   * @param fetch - the list route.
   * @param filters - the filters to start with.
   */
  constructor(
    readonly serverSettings: ServerConnection.ISettings,
    fetch: ListFetcher<T, Q>,
    filters: Q
  ) {
    this._fetch = fetch;
    this._filters = filters;
  }

  /** Emitted when the list, the filters or the loading state change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The items of the last successful fetch. */
  get items(): ReadonlyArray<T> {
    return this._items;
  }

  /** The total the service reported (may exceed the items shown). */
  get total(): number {
    return this._total;
  }

  get filters(): Readonly<Q> {
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
  async setFilters(filters: Partial<Q>): Promise<void> {
    this._filters = { ...this._filters, ...filters };
    await this.refresh();
  }

  /**
   * Reload the list (the first 200 items); an older answer never replaces a
   * newer one.
   */
  async refresh(): Promise<void> {
    const generation = ++this._generation;
    this._loading = true;
    this._changed.emit();
    try {
      const page = await this._fetch(
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

  private _fetch: ListFetcher<T, Q>;
  private _items: T[] = [];
  private _total = 0;
  private _filters: Q;
  private _loading = false;
  private _loaded = false;
  private _error: string | null = null;
  private _generation = 0;
  private _changed = new Signal<this, void>(this);
}
