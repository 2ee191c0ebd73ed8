import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  diffVersions,
  getVersion,
  IDiff,
  IVersion,
  versionDownloadURL
} from '../../api/datasets';
import { errorMessage } from '../../api/request';
import { formatBytes } from '../../format';
import { when } from '../../jobs/format';
import { BarChart } from './BarChart';
import { DiffView } from './DiffView';

/**
 * Properties of `VersionsTab`.
 */
export interface IVersionsTabProps {
  datasetId: string;
  versions: ReadonlyArray<IVersion>;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
}

/**
 * The versions (newest first); the selected one shows its statistics (label
 * histogram, split sizes) and a diff against another version.
 */
export function VersionsTab(props: IVersionsTabProps): JSX.Element {
  const { datasetId, versions, settings, trans } = props;
  const [selected, setSelected] = React.useState<string | null>(
    versions[0]?.version ?? null
  );
  const [detail, setDetail] = React.useState<IVersion | null>(null);
  const [against, setAgainst] = React.useState('');
  const [diff, setDiff] = React.useState<IDiff | null>(null);
  const [error, setError] = React.useState<string | null>(null);

  React.useEffect(() => {
    if (!selected && versions.length > 0) {
      setSelected(versions[0].version);
    }
  }, [versions]);

  React.useEffect(() => {
    setDetail(null);
    setDiff(null);
    setAgainst('');
    if (selected) {
      getVersion(datasetId, selected, settings)
        .then(setDetail)
        .catch(e => setError(errorMessage(e)));
    }
  }, [selected]);

  React.useEffect(() => {
    setDiff(null);
    if (selected && against) {
      diffVersions(datasetId, selected, against, settings)
        .then(setDiff)
        .catch(e => setError(errorMessage(e)));
    }
  }, [selected, against]);

  if (versions.length === 0) {
    return (
      <div className="jp-tz-Empty">
        {trans.__(
          'No versions yet. Label the draft, then Publish to freeze V001.'
        )}
      </div>
    );
  }
  const stats = detail?.stats;
  return (
    <div className="jp-tz-VersionsTab">
      <table className="jp-tz-VersionList">
        <thead>
          <tr>
            <th>{trans.__('Version')}</th>
            <th>{trans.__('Files')}</th>
            <th>{trans.__('Size')}</th>
            <th>{trans.__('Created')}</th>
            <th>{trans.__('Note')}</th>
          </tr>
        </thead>
        <tbody>
          {versions.map(v => (
            <tr
              key={v.version}
              className={`jp-tz-VersionRow${v.version === selected ? ' jp-mod-selected' : ''}`}
              data-version={v.version}
              onClick={() => setSelected(v.version)}
            >
              <td>{v.version}</td>
              <td>{v.files}</td>
              <td>{formatBytes(v.bytes)}</td>
              <td>{`${when(v.created)} · ${v.created_by}`}</td>
              <td>{v.note ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {error && (
        <div className="jp-tz-Unavailable" role="alert">
          {error}
        </div>
      )}
      {detail && (
        <div className="jp-tz-VersionDetail" data-version={detail.version}>
          <div className="jp-tz-VersionDetail-facts">
            <span>{trans.__('%1 files', detail.files)}</span>
            <span>{formatBytes(detail.bytes)}</span>
            {stats && <span>{trans.__('%1 labeled', stats.labeled)}</span>}
            <span
              className="jp-tz-Monospace"
              title={trans.__('manifest sha256')}
            >
              {detail.manifest_sha256?.slice(0, 12)}
            </span>
            <a
              className="jp-tz-VersionDownload"
              href={versionDownloadURL(datasetId, detail.version, settings)}
              download=""
              title={trans.__(
                'The files, manifest and version.json as one ZIP, as a training job sees them'
              )}
            >
              {trans.__('Download ZIP')}
            </a>
          </div>
          {stats && (
            <div className="jp-tz-Charts">
              <BarChart
                className="jp-tz-LabelHistogram"
                title={trans.__('Labels')}
                data={Object.entries(stats.labels).sort((a, b) => b[1] - a[1])}
              />
              <BarChart
                className="jp-tz-SplitSizes"
                title={trans.__('Splits')}
                data={['train', 'val', 'test', 'unassigned']
                  .filter(k => k in stats.splits)
                  .map(k => [k, stats.splits[k]] as [string, number])}
              />
            </div>
          )}
          {versions.length > 1 && (
            <label className="jp-tz-Inline">
              {trans.__('Compare with')}
              <select
                className="jp-tz-Input jp-tz-DiffAgainst"
                value={against}
                onChange={e => setAgainst(e.target.value)}
              >
                <option value="">—</option>
                {versions
                  .filter(v => v.version !== selected)
                  .map(v => (
                    <option key={v.version} value={v.version}>
                      {v.version}
                    </option>
                  ))}
              </select>
            </label>
          )}
          {diff && selected && (
            <DiffView
              diff={diff}
              version={selected}
              against={against}
              trans={trans}
            />
          )}
        </div>
      )}
    </div>
  );
}
