import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { buttonProps } from '../../a11y';
import { IModel } from '../../api/models';
import { ago, when } from '../../jobs/format';
import { StageBadge } from './StageBadge';

/**
 * Properties of `ModelRow`.
 */
export interface IModelRowProps {
  model: IModel;
  trans: TranslationBundle;
  onOpen: (id: string) => void;
}

/**
 * One model in the panel: name, latest version, production badge, owner,
 * task and age. Click or Enter opens its view.
 */
export function ModelRow(props: IModelRowProps): JSX.Element {
  const { model: m, trans, onOpen } = props;
  const open = () => onOpen(m.id);
  return (
    <li
      className="jp-tz-ModelRow"
      data-model-id={m.id}
      data-name={m.name}
      {...buttonProps(open)}
      title={m.description || `${m.owner}/${m.name}`}
    >
      <div className="jp-tz-ModelRow-main">
        <span className="jp-tz-ModelRow-name">{m.name}</span>
        {m.production_version !== null &&
          m.production_version !== undefined && (
            <StageBadge
              stage="production"
              label={trans.__('prod v%1', m.production_version)}
              title={trans.__(
                'Version %1 is in production',
                m.production_version
              )}
            />
          )}
        <span
          className="jp-tz-Badge jp-tz-ModelRow-latest"
          title={trans.__('Latest version')}
        >
          {m.latest_version ? `v${m.latest_version}` : trans.__('no versions')}
        </span>
      </div>
      <div className="jp-tz-ModelRow-meta">
        <span className="jp-tz-ModelRow-owner">{m.owner}</span>
        {m.task && (
          <span className="jp-tz-ModelRow-task">
            {String(m.task).replace(/_/g, ' ')}
          </span>
        )}
        <span>{trans._n('%1 version', '%1 versions', m.versions)}</span>
        <span title={when(m.updated)}>{ago(m.updated)}</span>
      </div>
    </li>
  );
}
