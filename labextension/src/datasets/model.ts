/**
 * `DatasetsModel`: the Datasets panel's list, with search and filters
 * (server-side), refreshed on demand.
 */
import { ServerConnection } from '@jupyterlab/services';

import { IDataset, IDatasetQuery, listDatasets } from '../api/datasets';
import { FilteredList } from '../listing';

/**
 * The Datasets panel's state.
 */
export class DatasetsModel extends FilteredList<IDataset, IDatasetQuery> {
  constructor(serverSettings: ServerConnection.ISettings) {
    super(serverSettings, listDatasets, { q: '', type: '', owner: '' });
  }
}
