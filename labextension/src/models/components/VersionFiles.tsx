import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  downloadVersionFile,
  IModelFile,
  listVersionFiles
} from '../../api/models';
import { errorMessage } from '../../api/request';
import { Unavailable } from '../../components/Unavailable';
import { saveFile } from '../../download';
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
 * path (a download button), size and the start of the sha256.
 */
export function VersionFiles(props: IVersionFilesProps): JSX.Element {
  const { modelId, version, settings, trans, onError } = props;
  const [files, setFiles] = React.useState<IModelFile[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [downloading, setDownloading] = React.useState<string | null>(null);

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

  const onDownload = async (path: string) => {
    setDownloading(path);
    try {
      const blob = await downloadVersionFile(modelId, version, path, settings);
      saveFile(blob, fileName(path));
    } catch (e) {
      onError(errorMessage(e));
    } finally {
      setDownloading(null);
    }
  };

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
              <button
                type="button"
                className="jp-tz-LinkButton jp-tz-VersionFile-download"
                title={trans.__('Download %1', file.path)}
                disabled={downloading === file.path}
                onClick={() => void onDownload(file.path)}
              >
                {file.path}
              </button>
            </td>
            <td className="jp-tz-VersionFile-size">{formatBytes(file.size)}</td>
            <td>
              <code className="jp-tz-Path" title={file.sha256}>
                {shortSha(file.sha256)}
              </code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
