import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IModelVersion } from '../../api/models';
import { formatBytes } from '../../format';
import { ago, when } from '../../jobs/format';
import { formatValue, keyMetrics, MISSING } from '../comparison';
import { StageBadge } from './StageBadge';

/**
 * Properties of `VersionsTable`.
 */
export interface IVersionsTableProps {
  versions: ReadonlyArray<IModelVersion>;
  selected: number | null;
  /** The versions ticked for comparison. */
  checked: ReadonlySet<number>;
  trans: TranslationBundle;
  onSelect: (version: number) => void;
  onToggle: (version: number, on: boolean) => void;
  onOpenJob: (id: string) => void;
}

/**
 * The versions of a model, newest first (`.jp-tz-VersionRow[data-version]`):
 * a comparison checkbox, version, format, stage, size, created, source,
 * parent and the key metrics. Clicking a row selects it.
 */
export function VersionsTable(props: IVersionsTableProps): JSX.Element {
  const { versions, selected, checked, trans, onSelect, onToggle, onOpenJob } =
    props;
  return (
    <table className="jp-tz-VersionList jp-tz-ModelVersions">
      <thead>
        <tr>
          <th className="jp-tz-ModelVersions-check">
            <span className="jp-tz-VisuallyHidden">{trans.__('Compare')}</span>
          </th>
          <th>{trans.__('Version')}</th>
          <th>{trans.__('Format')}</th>
          <th>{trans.__('Stage')}</th>
          <th>{trans.__('Size')}</th>
          <th>{trans.__('Created')}</th>
          <th>{trans.__('Source')}</th>
          <th>{trans.__('Parent')}</th>
          <th>{trans.__('Key metrics')}</th>
        </tr>
      </thead>
      <tbody>
        {versions.map(v => {
          const source = v.source;
          return (
            <tr
              key={v.version}
              className={`jp-tz-VersionRow${v.version === selected ? ' jp-mod-selected' : ''}`}
              data-version={v.version}
              data-format={v.format}
              data-stage={v.stage}
              aria-selected={v.version === selected}
              onClick={() => onSelect(v.version)}
            >
              <td className="jp-tz-ModelVersions-check">
                <input
                  type="checkbox"
                  className="jp-tz-CompareCheck"
                  aria-label={trans.__('Compare v%1', v.version)}
                  checked={checked.has(v.version)}
                  onClick={e => e.stopPropagation()}
                  onChange={e => onToggle(v.version, e.target.checked)}
                />
              </td>
              <td className="jp-tz-VersionRow-version">
                {`v${v.version}`}
                {v.version_name ? ` ${v.version_name}` : ''}
              </td>
              <td>{v.format}</td>
              <td>
                <StageBadge stage={v.stage} />
              </td>
              <td>{formatBytes(v.size_bytes)}</td>
              <td title={`${when(v.created)} · ${v.created_by}`}>
                {ago(v.created)}
              </td>
              <td className="jp-tz-VersionRow-source">
                {source?.job_id ? (
                  <button
                    type="button"
                    className="jp-tz-LinkButton"
                    title={trans.__('Open job %1', source.job_id)}
                    onClick={e => {
                      e.stopPropagation();
                      onOpenJob(source.job_id!);
                    }}
                  >
                    {source.kind === 'conversion'
                      ? trans.__('conversion %1', source.job_id)
                      : source.job_id}
                  </button>
                ) : source?.kind === 'conversion' ? (
                  trans.__('conversion')
                ) : source?.kind === 'workspace' ? (
                  `${source.space ?? ''}:${source.path ?? ''}`
                ) : (
                  (source?.kind ?? MISSING)
                )}
              </td>
              <td>
                {v.parent ? (
                  <button
                    type="button"
                    className="jp-tz-LinkButton"
                    onClick={e => {
                      e.stopPropagation();
                      onSelect(v.parent!.version);
                    }}
                  >
                    {`v${v.parent.version}`}
                  </button>
                ) : (
                  MISSING
                )}
              </td>
              <td className="jp-tz-VersionRow-metrics">
                {keyMetrics(v.metrics)
                  .map(([k, value]) => `${k} ${formatValue(value)}`)
                  .join(' · ') || MISSING}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
