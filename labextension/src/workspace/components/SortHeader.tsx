import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { SortKey, SortOrder } from '../../api/workspace';

/**
 * Properties of `SortHeader`.
 */
export interface ISortHeaderProps {
  sort: SortKey;
  order: SortOrder;
  trans: TranslationBundle;
  onSort: (key: SortKey) => void;
}

/**
 * The column headers; a click sorts on the server by that column, a second
 * click flips the order.
 */
export function SortHeader(props: ISortHeaderProps): JSX.Element {
  const { sort, order, trans, onSort } = props;
  const columns: [SortKey, string][] = [
    ['name', trans.__('Name')],
    ['size', trans.__('Size')],
    ['modified', trans.__('Modified')]
  ];
  return (
    <div className="jp-tz-SortHeader" role="toolbar">
      {columns.map(([key, label]) => (
        <button
          key={key}
          className={`jp-tz-SortHeader-${key} jp-tz-SortHeader-item${
            sort === key ? ' jp-mod-active' : ''
          }`}
          data-sort={key}
          aria-sort={
            sort === key
              ? order === 'asc'
                ? 'ascending'
                : 'descending'
              : undefined
          }
          onClick={() => onSort(key)}
        >
          {label}
          {sort === key && (order === 'asc' ? ' ▲' : ' ▼')}
        </button>
      ))}
    </div>
  );
}
