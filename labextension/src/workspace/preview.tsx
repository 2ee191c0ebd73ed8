/**
 * The main-area preview of a workspace file (image thumbnail, table head,
 * text, JSON).
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { errorMessage } from '../api/request';
import {
  IPreview,
  IWorkspaceItem,
  previewItem,
  thumbnailURL
} from '../api/workspace';
import { PreviewBody } from '../components/PreviewBody';

/**
 * Properties of `WorkspacePreview`.
 */
export interface IWorkspacePreviewProps {
  space: string;
  item: IWorkspaceItem;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
}

/**
 * Fetches and shows the preview of one workspace file.
 */
export function WorkspacePreview(props: IWorkspacePreviewProps): JSX.Element {
  const { space, item, settings, trans } = props;
  const [preview, setPreview] = React.useState<IPreview | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    previewItem(space, item.path, settings)
      .then(setPreview)
      .catch(e => setError(errorMessage(e)));
  }, [space, item.path]);
  return (
    <div className="jp-tz-WorkspacePreview">
      <h2 className="jp-tz-WorkspacePreview-title">{item.path}</h2>
      {error && (
        <div className="jp-tz-Unavailable" role="alert">
          {error}
        </div>
      )}
      {!preview && !error && (
        <div className="jp-tz-Empty">{trans.__('Loading…')}</div>
      )}
      {preview && (
        <PreviewBody
          preview={preview}
          trans={trans}
          imageURL={thumbnailURL(space, item.path, 512, settings)}
        />
      )}
    </div>
  );
}

/**
 * Create the preview widget of a workspace file.
 */
export function createPreviewWidget(
  props: IWorkspacePreviewProps
): ReactWidget {
  const widget = ReactWidget.create(<WorkspacePreview {...props} />);
  widget.addClass('jp-tz-WorkspacePreviewWidget');
  return widget;
}
