import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  fileThumbnailURL,
  IDatasetFile,
  previewFile
} from '../../api/datasets';
import { errorMessage } from '../../api/request';
import { IPreview } from '../../api/workspace';
import { PreviewBody } from '../../components/PreviewBody';
import { formatBytes } from '../../format';

/**
 * Properties of `FilePreview`.
 */
export interface IFilePreviewProps {
  datasetId: string;
  file: IDatasetFile;
  version: string | null;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
}

/**
 * One dataset file: its manifest entry (key, size, split, labels, sha256)
 * and its preview, with the boxes drawn over images.
 */
export function FilePreview(props: IFilePreviewProps): JSX.Element {
  const { datasetId, file, version, settings, trans } = props;
  const [preview, setPreview] = React.useState<IPreview | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    setPreview(null);
    setError(null);
    previewFile(datasetId, file.key, version, settings)
      .then(setPreview)
      .catch(e => setError(errorMessage(e)));
  }, [datasetId, file.key, version]);
  const annotations = file.annotations ?? { labels: [], boxes: [] };
  return (
    <div className="jp-tz-FilePreview" data-key={file.key}>
      <dl className="jp-tz-FilePreview-entry">
        <dt>{trans.__('Key')}</dt>
        <dd className="jp-tz-FilePreview-key">{file.key}</dd>
        <dt>{trans.__('Size')}</dt>
        <dd>{formatBytes(file.size)}</dd>
        <dt>{trans.__('Split')}</dt>
        <dd>{file.usage ?? '—'}</dd>
        <dt>{trans.__('Labels')}</dt>
        <dd className="jp-tz-FilePreview-labels">
          {annotations.labels.join(', ') || '—'}
        </dd>
        <dt>{trans.__('Boxes')}</dt>
        <dd>{annotations.boxes.length}</dd>
        <dt>sha256</dt>
        <dd className="jp-tz-Monospace">{file.sha256?.slice(0, 16)}</dd>
      </dl>
      {error && (
        <div className="jp-tz-Unavailable" role="alert">
          {error}
        </div>
      )}
      {preview && (
        <PreviewBody
          preview={preview}
          trans={trans}
          boxes={annotations.boxes}
          imageURL={fileThumbnailURL(
            datasetId,
            file.key,
            version,
            512,
            settings
          )}
        />
      )}
    </div>
  );
}
