/**
 * `ModelsModel`: the Models panel's list, with search and filters
 * (server-side), refreshed on demand.
 */
import { ServerConnection } from '@jupyterlab/services';

import { IModel, IModelQuery, listModels } from '../api/models';
import { FilteredList } from '../listing';

/**
 * The Models panel's state.
 */
export class ModelsModel extends FilteredList<IModel, IModelQuery> {
  constructor(serverSettings: ServerConnection.ISettings) {
    super(serverSettings, listModels, {
      q: '',
      task: '',
      stage: '',
      owner: ''
    });
  }
}
