import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { MODEL_TASKS, ModelTask, Stage } from '../../api/models';
import { FilterSelect } from '../../components/FilterSelect';
import { OwnerFilter } from '../../components/OwnerFilter';
import { SearchBox } from '../../components/SearchBox';
import { Unavailable } from '../../components/Unavailable';
import { useSignal } from '../../jobs/hooks';
import { ModelsModel } from '../model';
import { ModelRow } from './ModelRow';

/**
 * Properties of `ModelBrowser`.
 */
export interface IModelBrowserProps {
  model: ModelsModel;
  /** The caller's user name (the "Mine" filter). */
  user: string;
  trans: TranslationBundle;
  onOpen: (id: string) => void;
}

/**
 * The Models panel's body: search, task, stage and owner filters, the list,
 * and an empty state that says where models come from.
 */
export function ModelBrowser(props: IModelBrowserProps): JSX.Element {
  const { model, user, trans, onOpen } = props;
  useSignal(model.changed);
  const filtered = Boolean(
    model.filters.q ||
    model.filters.task ||
    model.filters.stage ||
    model.filters.owner
  );
  return (
    <div className="jp-tz-ModelBrowser">
      <div className="jp-tz-ModelBrowser-filters">
        <SearchBox
          list={model}
          className="jp-tz-ModelSearch"
          label={trans.__('Search models')}
        />
        <FilterSelect
          className="jp-tz-ModelTaskFilter"
          label={trans.__('Task')}
          value={model.filters.task ?? ''}
          onChange={task =>
            void model.setFilters({ task: task as ModelTask | '' })
          }
        >
          <option value="">{trans.__('All tasks')}</option>
          {MODEL_TASKS.map(t => (
            <option key={t} value={t}>
              {t.replace(/_/g, ' ')}
            </option>
          ))}
        </FilterSelect>
        <FilterSelect
          className="jp-tz-ModelStageFilter"
          label={trans.__('Stage')}
          value={model.filters.stage ?? ''}
          onChange={stage =>
            void model.setFilters({ stage: stage as Stage | '' })
          }
        >
          <option value="">{trans.__('Any stage')}</option>
          <option value="staging">{trans.__('staging')}</option>
          <option value="production">{trans.__('production')}</option>
          <option value="archived">{trans.__('archived')}</option>
        </FilterSelect>
        <OwnerFilter
          className="jp-tz-ModelOwnerFilter"
          owner={model.filters.owner}
          user={user}
          trans={trans}
          onChange={owner => void model.setFilters({ owner })}
        />
      </div>
      <Unavailable error={model.error} />
      {model.items.length === 0 && model.loaded && !model.error ? (
        filtered ? (
          <div className="jp-tz-Empty">
            {trans.__('No models match these filters.')}
          </div>
        ) : (
          <div className="jp-tz-Empty jp-tz-ModelsEmpty">
            <p>
              {trans.__('No models yet. Models come from jobs and notebooks:')}
            </p>
            <ul>
              <li>
                {trans.__('a job that writes ')}
                <code>$TZ_OUTPUT_DIR/model/tz-model.json</code>
                {trans.__(' is registered when it succeeds;')}
              </li>
              <li>
                {trans.__(
                  '"Register model" on a succeeded job registers a folder of its output;'
                )}
              </li>
              <li>
                {trans.__('from a notebook: ')}
                <code>tz.models.register("name", "folder/")</code>
              </li>
            </ul>
          </div>
        )
      ) : (
        <ul className="jp-tz-ModelList">
          {model.items.map(m => (
            <ModelRow key={m.id} model={m} trans={trans} onOpen={onOpen} />
          ))}
        </ul>
      )}
    </div>
  );
}
