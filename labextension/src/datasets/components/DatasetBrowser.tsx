import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { DATASET_TYPES, DatasetType } from '../../api/datasets';
import { FilterSelect } from '../../components/FilterSelect';
import { OwnerFilter } from '../../components/OwnerFilter';
import { SearchBox } from '../../components/SearchBox';
import { Unavailable } from '../../components/Unavailable';
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
  return (
    <div className="jp-tz-DatasetBrowser">
      <div className="jp-tz-DatasetBrowser-filters">
        <SearchBox
          list={model}
          className="jp-tz-DatasetSearch"
          label={trans.__('Search datasets')}
        />
        <FilterSelect
          className="jp-tz-DatasetTypeFilter"
          label={trans.__('Type')}
          value={model.filters.type ?? ''}
          onChange={type =>
            void model.setFilters({ type: type as DatasetType | '' })
          }
        >
          <option value="">{trans.__('All types')}</option>
          {DATASET_TYPES.map(t => (
            <option key={t} value={t}>
              {t.replace('_', ' ')}
            </option>
          ))}
        </FilterSelect>
        <OwnerFilter
          className="jp-tz-DatasetOwnerFilter"
          owner={model.filters.owner}
          user={user}
          trans={trans}
          onChange={owner => void model.setFilters({ owner })}
        />
      </div>
      <Unavailable error={model.error} />
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
