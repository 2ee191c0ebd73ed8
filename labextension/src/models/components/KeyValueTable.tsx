import * as React from 'react';

import { formatValue } from '../comparison';

/**
 * Properties of `KeyValueTable`.
 */
export interface IKeyValueTableProps {
  /** The pairs, shown sorted by key. */
  values: Record<string, unknown> | null | undefined;
  className?: string;
  /** Shown when there are no pairs. */
  empty: string;
}

/**
 * Metrics, parameters or tags as a two-column table; keys and values are
 * plain text.
 */
export function KeyValueTable(props: IKeyValueTableProps): JSX.Element {
  const entries = Object.entries(props.values ?? {}).sort((a, b) =>
    a[0].localeCompare(b[0])
  );
  if (entries.length === 0) {
    return <div className="jp-tz-Empty">{props.empty}</div>;
  }
  return (
    <table className={`jp-tz-KeyValues ${props.className ?? ''}`}>
      <tbody>
        {entries.map(([key, value]) => (
          <tr key={key} data-key={key}>
            <th>{key}</th>
            <td>{formatValue(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
