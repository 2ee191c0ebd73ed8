/**
 * `WorkspaceModel`: the state of the Workspace browser: spaces, the open
 * folder, its rows loaded page by page (server-side sort, cursor pagination)
 * and the selection. Stale answers (after the user moved on) are dropped.
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { errorMessage } from '../api/request';
import {
  ISpace,
  IWorkspaceItem,
  listFolder,
  listSpaces,
  SortKey,
  SortOrder
} from '../api/workspace';

/**
 * Rows fetched per page.
 */
export const PAGE_SIZE = 500;

/**
 * The Workspace browser's state.
 */
export class WorkspaceModel {
  /**
   * @param serverSettings - the server settings.
   */
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  /** Emitted on every change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The spaces of the caller. */
  get spaces(): ReadonlyArray<ISpace> {
    return this._spaces;
  }

  /** The current space id, "" before the spaces are loaded. */
  get space(): string {
    return this._space;
  }

  /** The open folder ("" = the space root). */
  get path(): string {
    return this._path;
  }

  get sort(): SortKey {
    return this._sort;
  }

  get order(): SortOrder {
    return this._order;
  }

  /** The rows loaded so far. */
  get items(): ReadonlyArray<IWorkspaceItem> {
    return this._items;
  }

  /** Whether the server has more rows. */
  get hasMore(): boolean {
    return this._next !== null;
  }

  get loading(): boolean {
    return this._loading;
  }

  /** The last error, or null. */
  get error(): string | null {
    return this._error;
  }

  /** The selected row's path, or null. */
  get selected(): string | null {
    return this._selected;
  }

  /** The selected item, if loaded. */
  get selectedItem(): IWorkspaceItem | null {
    return this._items.find(i => i.path === this._selected) ?? null;
  }

  /**
   * Load the spaces and open the first (the caller's own).
   */
  async start(): Promise<void> {
    try {
      this._spaces = await listSpaces(this.serverSettings);
      this._error = null;
    } catch (error) {
      this._error = errorMessage(error);
      this._changed.emit();
      return;
    }
    if (!this._spaces.some(s => s.space === this._space)) {
      this._space = this._spaces[0]?.space ?? '';
      this._path = '';
    }
    await this.refresh();
  }

  /**
   * Switch to another space, at its root.
   */
  async setSpace(space: string): Promise<void> {
    this._space = space;
    this._path = '';
    await this.refresh();
  }

  /**
   * Open a folder of the current space.
   */
  async open(path: string): Promise<void> {
    this._path = path;
    await this.refresh();
  }

  /**
   * Sort by a column; the same column again flips the order.
   */
  async setSort(sort: SortKey): Promise<void> {
    if (sort === this._sort) {
      this._order = this._order === 'asc' ? 'desc' : 'asc';
    } else {
      this._sort = sort;
      this._order = 'asc';
    }
    await this.refresh();
  }

  /**
   * Select a row (null clears).
   */
  select(path: string | null): void {
    if (path !== this._selected) {
      this._selected = path;
      this._changed.emit();
    }
  }

  /**
   * Reload the open folder from its first page.
   */
  async refresh(): Promise<void> {
    if (!this._space) {
      this._changed.emit();
      return;
    }
    const generation = ++this._generation;
    this._controller?.abort();
    this._items = [];
    this._next = null;
    this._loading = false;
    await this._fetch(generation, null);
  }

  /**
   * Fetch the next page, if any and none is on its way.
   */
  async loadMore(): Promise<void> {
    if (this._loading || this._next === null) {
      return;
    }
    await this._fetch(this._generation, this._next);
  }

  private async _fetch(generation: number, cursor: string | null) {
    this._loading = true;
    this._changed.emit();
    const controller = new AbortController();
    this._controller = controller;
    try {
      const page = await listFolder(
        {
          space: this._space,
          path: this._path,
          cursor,
          limit: PAGE_SIZE,
          sort: this._sort,
          order: this._order
        },
        this.serverSettings,
        controller.signal
      );
      if (generation !== this._generation) {
        return;
      }
      this._items = this._items.concat(page.items);
      this._next = page.next;
      this._error = null;
    } catch (error) {
      if (generation !== this._generation) {
        return;
      }
      this._error = errorMessage(error);
      this._next = null;
    } finally {
      if (generation === this._generation) {
        this._loading = false;
        this._changed.emit();
      }
    }
  }

  private _spaces: ISpace[] = [];
  private _space = '';
  private _path = '';
  private _sort: SortKey = 'name';
  private _order: SortOrder = 'asc';
  private _items: IWorkspaceItem[] = [];
  private _next: string | null = null;
  private _loading = false;
  private _error: string | null = null;
  private _selected: string | null = null;
  private _generation = 0;
  private _controller: AbortController | null = null;
  private _changed = new Signal<this, void>(this);
}
