import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  fileThumbnailURL,
  IDatasetFile,
  IVersion,
  listFiles
} from '../../api/datasets';
import { errorMessage } from '../../api/request';
import { FilePreview } from './FilePreview';

const PAGE = 120;
const IMAGE = /\.(jpe?g|png|gif|bmp|webp|tiff?)$/i;

/**
 * Properties of `FilesTab`.
 */
export interface IFilesTabProps {
  datasetId: string;
  versions: ReadonlyArray<IVersion>;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
  /** Bumped when the draft changes (labels saved, publish). */
  revision: number;
}

/**
 * The files of the draft or of a version: a grid of thumbnails (server-made,
 * cached) or file cards, paged, and the preview of the chosen file.
 */
export function FilesTab(props: IFilesTabProps): JSX.Element {
  const { datasetId, versions, settings, trans } = props;
  const [version, setVersion] = React.useState<string>('');
  const [files, setFiles] = React.useState<IDatasetFile[]>([]);
  const [total, setTotal] = React.useState(0);
  const [chosen, setChosen] = React.useState<IDatasetFile | null>(null);
  const [error, setError] = React.useState<string | null>(null);

  const load = (offset: number) =>
    listFiles(
      datasetId,
      { offset, limit: PAGE, version: version || null },
      settings
    )
      .then(page => {
        setFiles(prev => (offset === 0 ? page.items : prev.concat(page.items)));
        setTotal(page._pagination?.total ?? page.items.length);
        setError(null);
      })
      .catch(e => setError(errorMessage(e)));

  React.useEffect(() => {
    setChosen(null);
    void load(0);
  }, [version, props.revision]);

  return (
    <div className="jp-tz-FilesTab">
      <div className="jp-tz-SectionToolbar">
        <label className="jp-tz-Inline">
          {trans.__('Show')}
          <select
            className="jp-tz-Input jp-tz-VersionPicker"
            value={version}
            onChange={e => setVersion(e.target.value)}
          >
            <option value="">{trans.__('Draft')}</option>
            {versions.map(v => (
              <option key={v.version} value={v.version}>
                {v.version}
              </option>
            ))}
          </select>
        </label>
        <span className="jp-tz-FilesTab-count">
          {trans.__('%1 of %2 files', files.length, total)}
        </span>
      </div>
      {error && (
        <div className="jp-tz-Unavailable" role="alert">
          {error}
        </div>
      )}
      <div className="jp-tz-FilesTab-body">
        <div className="jp-tz-FileGrid" role="list">
          {files.map(file => (
            <button
              key={file.key}
              role="listitem"
              className={`jp-tz-FileCard${chosen?.key === file.key ? ' jp-mod-selected' : ''}`}
              data-key={file.key}
              title={file.key}
              onClick={() => setChosen(file)}
            >
              {IMAGE.test(file.key) ? (
                <img
                  loading="lazy"
                  alt=""
                  src={fileThumbnailURL(
                    datasetId,
                    file.key,
                    version || null,
                    128,
                    settings
                  )}
                />
              ) : (
                <span className="jp-tz-FileCard-ext">
                  {file.key.split('.').pop()}
                </span>
              )}
              <span className="jp-tz-FileCard-name">{file.key}</span>
              <span className="jp-tz-FileCard-label">
                {file.annotations?.labels?.[0] ??
                  (file.annotations?.boxes?.length
                    ? trans._n(
                        '%1 box',
                        '%1 boxes',
                        file.annotations.boxes.length
                      )
                    : '')}
              </span>
            </button>
          ))}
          {files.length < total && (
            <button
              className="jp-tz-Button jp-tz-LoadMore"
              onClick={() => void load(files.length)}
            >
              {trans.__('Load more')}
            </button>
          )}
        </div>
        {chosen && (
          <FilePreview
            datasetId={datasetId}
            file={chosen}
            version={version || null}
            settings={settings}
            trans={trans}
          />
        )}
      </div>
    </div>
  );
}
