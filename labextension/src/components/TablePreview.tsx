import * as React from 'react';

/**
 * Properties of `TablePreview`.
 */
export interface ITablePreviewProps {
  columns: ReadonlyArray<string>;
  rows: ReadonlyArray<ReadonlyArray<unknown>>;
}

/**
 * The head of a table (CSV/TSV/Parquet); cells render as text.
 */
export function TablePreview(props: ITablePreviewProps): JSX.Element {
  const cell = (value: unknown) =>
    value === null || value === undefined
      ? ''
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value);
  return (
    <div className="jp-tz-TablePreview">
      <table>
        <thead>
          <tr>
            {props.columns.map((column, i) => (
              <th key={i}>{column}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row, r) => (
            <tr key={r}>
              {row.map((value, c) => (
                <td key={c}>{cell(value)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
