/**
 * `DatasetsModel`: the Datasets panel's list, with search and filters
 * (server-side), refreshed on demand.
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { IDataset, IDatasetQuery, listDatasets } from '../api/datasets';
import { errorMessage } from '../api/request';

/**
 * The Datasets panel's state.
 */
export class DatasetsModel {
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get items(): ReadonlyArray<IDataset> {
    return this._items;
  }

  get filters(): Readonly<IDatasetQuery> {
    return this._filters;
  }

  get loading(): boolean {
    return this._loading;
  }

  get error(): string | null {
    return this._error;
  }

  /**
   * Change the filters and reload.
   */
  async setFilters(filters: Partial<IDatasetQuery>): Promise<void> {
    this._filters = { ...this._filters, ...filters };
    await this.refresh();
  }

  /**
   * Reload the list.
   */
  async refresh(): Promise<void> {
    const generation = ++this._generation;
    this._loading = true;
    this._changed.emit();
    try {
      const page = await listDatasets(
        { ...this._filters, limit: 200 },
        this.serverSettings
      );
      if (generation === this._generation) {
        this._items = page.items;
        this._error = null;
      }
    } catch (error) {
      if (generation === this._generation) {
        this._error = errorMessage(error);
      }
    } finally {
      if (generation === this._generation) {
        this._loading = false;
        this._changed.emit();
      }
    }
  }

  private _items: IDataset[] = [];
  private _filters: IDatasetQuery = { q: '', type: '', owner: '' };
  private _loading = false;
  private _error: string | null = null;
  private _generation = 0;
  private _changed = new Signal<this, void>(this);
}
