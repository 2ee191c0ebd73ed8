import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  IModelFile,
  listVersionFiles,
  versionFileURL,
  versionZipURL
} from '../../api/models';
import { errorMessage } from '../../api/request';
import { Unavailable } from '../../components/Unavailable';
import { formatBytes } from '../../format';
import { fileName, shortSha, sortedFiles } from '../files';

/**
 * Properties of `VersionFiles`.
 */
export interface IVersionFilesProps {
  modelId: string;
  version: number;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
  /** Changes when the files should be listed again. */
  revision: number;
  onError: (message: string) => void;
}

/**
 * A version's files (`.jp-tz-VersionFiles`, rows `.jp-tz-VersionFile[data-path]`):
 * path (a download link, streamed to disk by the browser), size and the start
 * of the sha256; and a link to all of them as one ZIP.
 */
export function VersionFiles(props: IVersionFilesProps): JSX.Element {
  const { modelId, version, settings, trans } = props;
  const [files, setFiles] = React.useState<IModelFile[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);

  React.useEffect(() => {
    let live = true;
    listVersionFiles(modelId, version, settings)
      .then(items => {
        if (live) {
          setFiles(sortedFiles(items));
          setError(null);
        }
      })
      .catch(e => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [modelId, version, props.revision]);

  if (error) {
    return <Unavailable error={error} />;
  }
  if (files === null) {
    return <div className="jp-tz-Empty">{trans.__('Loading…')}</div>;
  }
  if (files.length === 0) {
    return <div className="jp-tz-Empty">{trans.__('No files.')}</div>;
  }
  return (
    <>
      <a
        className="jp-tz-ModelZipDownload"
        href={versionZipURL(modelId, version, settings)}
        download=""
        title={trans.__('All the files of version %1 as one ZIP', version)}
      >
        {trans.__('Download all as ZIP')}
      </a>
      <table className="jp-tz-VersionFiles">
        <thead>
          <tr>
            <th>{trans.__('Path')}</th>
            <th>{trans.__('Size')}</th>
            <th>{trans.__('sha256')}</th>
          </tr>
        </thead>
        <tbody>
          {files.map(file => (
            <tr
              key={file.path}
              className="jp-tz-VersionFile"
              data-path={file.path}
            >
              <td>
                <a
                  className="jp-tz-LinkButton jp-tz-VersionFile-download"
                  title={trans.__('Download %1', file.path)}
                  href={versionFileURL(modelId, version, file.path, settings)}
                  download={fileName(file.path)}
                >
                  {file.path}
                </a>
              </td>
              <td className="jp-tz-VersionFile-size">
                {formatBytes(file.size)}
              </td>
              <td>
                <code className="jp-tz-Path" title={file.sha256}>
                  {shortSha(file.sha256)}
                </code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
