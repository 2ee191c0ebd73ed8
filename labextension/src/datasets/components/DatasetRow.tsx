import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { buttonProps } from '../../a11y';
import { IDataset } from '../../api/datasets';
import { formatBytes } from '../../format';

/**
 * Properties of `DatasetRow`.
 */
export interface IDatasetRowProps {
  dataset: IDataset;
  trans: TranslationBundle;
  onOpen: (id: string) => void;
}

/**
 * One dataset in the panel: name, type, owner, latest version, files and
 * labeling progress. Click or Enter opens its view.
 */
export function DatasetRow(props: IDatasetRowProps): JSX.Element {
  const { dataset: d, trans, onOpen } = props;
  const open = () => onOpen(d.id);
  return (
    <li
      className="jp-tz-DatasetRow"
      data-dataset-id={d.id}
      data-name={d.name}
      {...buttonProps(open)}
      title={d.description || d.name}
    >
      <div className="jp-tz-DatasetRow-main">
        <span className="jp-tz-DatasetRow-name">{d.name}</span>
        <span className="jp-tz-Badge">
          {d.latest_version ?? trans.__('draft')}
        </span>
      </div>
      <div className="jp-tz-DatasetRow-meta">
        <span>{d.type.replace('_', ' ')}</span>
        <span>{d.owner}</span>
        <span>{trans._n('%1 file', '%1 files', d.draft.files)}</span>
        <span>{formatBytes(d.draft.bytes)}</span>
        {d.draft.files > 0 && d.labels.length > 0 && (
          <span>
            {trans.__('%1/%2 labeled', d.draft.labeled, d.draft.files)}
          </span>
        )}
      </div>
    </li>
  );
}
