import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IBox } from '../api/datasets';
import { IPreview } from '../api/workspace';
import { formatBytes } from '../format';
import { BoxOverlay } from './BoxOverlay';
import { TablePreview } from './TablePreview';

/**
 * Properties of `PreviewBody`.
 */
export interface IPreviewBodyProps {
  preview: IPreview;
  /** The URL of the image (thumbnail or content) for image previews. */
  imageURL?: string;
  /** Boxes to draw over an image (manifest annotations). */
  boxes?: ReadonlyArray<IBox>;
  trans: TranslationBundle;
}

/**
 * A file preview by kind: image (with boxes overlaid), table head, text,
 * JSON, or a note for binary files. Everything from the file renders as text.
 */
export function PreviewBody(props: IPreviewBodyProps): JSX.Element {
  const { preview, trans } = props;
  const truncated = (flag: boolean) =>
    flag ? (
      <div className="jp-tz-Preview-truncated">{trans.__('(truncated)')}</div>
    ) : null;
  switch (preview.kind) {
    case 'image':
      return (
        <div className="jp-tz-Preview jp-tz-Preview-image" data-kind="image">
          {props.imageURL && (
            <BoxOverlay
              src={props.imageURL}
              width={preview.width}
              height={preview.height}
              boxes={props.boxes ?? []}
            />
          )}
          <div className="jp-tz-Preview-meta">
            {`${preview.width} × ${preview.height} ${preview.format ?? ''}`}
          </div>
        </div>
      );
    case 'table':
      return (
        <div className="jp-tz-Preview" data-kind="table">
          <TablePreview columns={preview.columns} rows={preview.rows} />
          {truncated(preview.truncated)}
        </div>
      );
    case 'text':
      return (
        <div className="jp-tz-Preview" data-kind="text">
          <pre className="jp-tz-Preview-text">{preview.text}</pre>
          {truncated(preview.truncated)}
        </div>
      );
    case 'json':
      return (
        <div className="jp-tz-Preview" data-kind="json">
          <pre className="jp-tz-Preview-text">
            {preview.value !== undefined
              ? JSON.stringify(preview.value, null, 2)
              : (preview.text ?? '')}
          </pre>
          {truncated(preview.truncated)}
        </div>
      );
    default:
      return (
        <div className="jp-tz-Preview jp-tz-Empty" data-kind="binary">
          {trans.__(
            'Binary file (%1): no preview.',
            formatBytes((preview as { size?: number }).size ?? null)
          )}
        </div>
      );
  }
}
