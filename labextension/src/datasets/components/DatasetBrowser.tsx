import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { DATASET_TYPES, DatasetType } from '../../api/datasets';
import { useSignal } from '../../jobs/hooks';
import { DatasetsModel } from '../model';
import { DatasetRow } from './DatasetRow';

/**
 * Properties of `DatasetBrowser`.
 */
export interface IDatasetBrowserProps {
  model: DatasetsModel;
  /** The caller's user name (the "Mine" filter). */
  user: string;
  trans: TranslationBundle;
  onOpen: (id: string) => void;
}

/**
 * The Datasets panel's body: search, type and owner filters, and the list.
 */
export function DatasetBrowser(props: IDatasetBrowserProps): JSX.Element {
  const { model, user, trans, onOpen } = props;
  useSignal(model.changed);
  const [q, setQ] = React.useState(model.filters.q ?? '');
  React.useEffect(() => {
    const handle = window.setTimeout(() => {
      if (q !== (model.filters.q ?? '')) {
        void model.setFilters({ q });
      }
    }, 250);
    return () => window.clearTimeout(handle);
  }, [q]);
  return (
    <div className="jp-tz-DatasetBrowser">
      <div className="jp-tz-DatasetBrowser-filters">
        <input
          className="jp-tz-Input jp-tz-DatasetSearch"
          type="search"
          placeholder={trans.__('Search datasets')}
          aria-label={trans.__('Search datasets')}
          value={q}
          onChange={e => setQ(e.target.value)}
        />
        <select
          className="jp-tz-Input jp-tz-DatasetTypeFilter"
          aria-label={trans.__('Type')}
          value={model.filters.type ?? ''}
          onChange={e =>
            void model.setFilters({ type: e.target.value as DatasetType | '' })
          }
        >
          <option value="">{trans.__('All types')}</option>
          {DATASET_TYPES.map(t => (
            <option key={t} value={t}>
              {t.replace('_', ' ')}
            </option>
          ))}
        </select>
        <select
          className="jp-tz-Input jp-tz-DatasetOwnerFilter"
          aria-label={trans.__('Owner')}
          value={model.filters.owner ? 'mine' : ''}
          onChange={e =>
            void model.setFilters({ owner: e.target.value ? user : '' })
          }
        >
          <option value="">{trans.__('Anyone')}</option>
          <option value="mine">{trans.__('Mine')}</option>
        </select>
      </div>
      {model.error && (
        <div className="jp-tz-Unavailable" role="alert">
          {model.error}
        </div>
      )}
      {model.items.length === 0 && !model.loading && !model.error ? (
        <div className="jp-tz-Empty">
          {trans.__(
            'No datasets. Use "New dataset", or right-click a workspace folder.'
          )}
        </div>
      ) : (
        <ul className="jp-tz-DatasetList">
          {model.items.map(d => (
            <DatasetRow key={d.id} dataset={d} trans={trans} onOpen={onOpen} />
          ))}
        </ul>
      )}
    </div>
  );
}
