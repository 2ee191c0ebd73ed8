import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ICompare } from '../../api/models';
import { compareColumns } from '../comparison';

/**
 * Properties of `CompareTable`.
 */
export interface ICompareTableProps {
  compare: ICompare;
  trans: TranslationBundle;
  /** Open the model view at a row's version. */
  onOpen: (modelId: string, version: number) => void;
}

/**
 * The comparison side by side (`.jp-tz-CompareRow[data-ref]`): format,
 * runtime, size, accuracy and its delta to the baseline, latency p50/p95 and
 * ratio, throughput, size ratio, then the other metrics.
 */
export function CompareTable(props: ICompareTableProps): JSX.Element {
  const { compare, trans, onOpen } = props;
  const columns = compareColumns(compare);
  return (
    <div className="jp-tz-CompareTable-scroll">
      <table className="jp-tz-CompareTable">
        <thead>
          <tr>
            {columns.map(c => (
              <th
                key={c.key}
                data-column={c.key}
                className={c.numeric ? 'jp-mod-numeric' : undefined}
              >
                {trans.__(c.label)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {compare.rows.map(row => (
            <tr
              key={row.ref}
              className={`jp-tz-CompareRow${row.ref === compare.baseline ? ' jp-mod-baseline' : ''}`}
              data-ref={row.ref}
              data-format={row.format}
            >
              {columns.map(c => (
                <td
                  key={c.key}
                  data-column={c.key}
                  className={c.numeric ? 'jp-mod-numeric' : undefined}
                >
                  {c.key === 'ref' ? (
                    <button
                      type="button"
                      className="jp-tz-LinkButton"
                      onClick={() => onOpen(row.model_id, row.version)}
                    >
                      {row.ref}
                    </button>
                  ) : (
                    c.text(row)
                  )}
                  {c.key === 'ref' && row.ref === compare.baseline && (
                    <span className="jp-tz-Badge jp-tz-BaselineBadge">
                      {trans.__('baseline')}
                    </span>
                  )}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
