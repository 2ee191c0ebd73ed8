import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

/**
 * Properties of `ConfusionMatrix`.
 */
export interface IConfusionMatrixProps {
  labels: ReadonlyArray<string>;
  /** Rows are the true classes, columns the predicted ones. */
  matrix: ReadonlyArray<ReadonlyArray<number>>;
  trans: TranslationBundle;
}

/**
 * A confusion matrix as a table, cells shaded by their share of the row.
 */
export function ConfusionMatrix(props: IConfusionMatrixProps): JSX.Element {
  const { labels, matrix, trans } = props;
  return (
    <table className="jp-tz-Confusion">
      <thead>
        <tr>
          <th title={trans.__('true ↓ / predicted →')}>
            {trans.__('true \\ predicted')}
          </th>
          {labels.map((l, i) => (
            <th key={i}>{l}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {matrix.map((row, i) => {
          const total = row.reduce((a, b) => a + (b || 0), 0) || 1;
          return (
            <tr key={i}>
              <th>{labels[i] ?? String(i)}</th>
              {row.map((n, j) => (
                <td
                  key={j}
                  className={i === j ? 'jp-mod-diagonal' : undefined}
                  style={{
                    background: `color-mix(in srgb, var(--jp-brand-color1) ${Math.round(
                      (60 * (n || 0)) / total
                    )}%, transparent)`
                  }}
                >
                  {n}
                </td>
              ))}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
