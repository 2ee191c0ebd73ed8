import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ISignature, ITensorSpec } from '../../api/models';

/**
 * Properties of `SignatureTable`.
 */
export interface ISignatureTableProps {
  signature: ISignature | null | undefined;
  trans: TranslationBundle;
}

/**
 * The inputs and outputs of a version: name, dtype and shape (-1 shown as
 * "?", a dynamic dimension).
 */
export function SignatureTable(props: ISignatureTableProps): JSX.Element {
  const { signature, trans } = props;
  const rows: [string, ITensorSpec][] = [
    ...(signature?.inputs ?? []).map(
      t => [trans.__('input'), t] as [string, ITensorSpec]
    ),
    ...(signature?.outputs ?? []).map(
      t => [trans.__('output'), t] as [string, ITensorSpec]
    )
  ];
  if (rows.length === 0) {
    return <div className="jp-tz-Empty">{trans.__('No signature.')}</div>;
  }
  return (
    <table className="jp-tz-Signature">
      <thead>
        <tr>
          <th>{trans.__('Role')}</th>
          <th>{trans.__('Name')}</th>
          <th>{trans.__('Type')}</th>
          <th>{trans.__('Shape')}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([role, t], i) => (
          <tr key={`${role}-${i}`}>
            <td>{role}</td>
            <td>{t.name}</td>
            <td>{t.dtype}</td>
            <td className="jp-tz-Monospace">
              {`[${(t.shape ?? []).map(d => (d === -1 ? '?' : String(d))).join(', ')}]`}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
