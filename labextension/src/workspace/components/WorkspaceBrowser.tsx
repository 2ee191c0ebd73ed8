import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IWorkspaceItem } from '../../api/workspace';
import { VirtualList } from '../../components/VirtualList';
import { useSignal } from '../../jobs/hooks';
import { UploadManager } from '../../uploads/manager';
import { filesFromDrop, IPickedFile } from '../dnd';
import { WorkspaceModel } from '../model';
import { Breadcrumb } from './Breadcrumb';
import { FileRow } from './FileRow';
import { SortHeader } from './SortHeader';
import { SpacePicker } from './SpacePicker';
import { UploadsView } from './UploadsView';

/**
 * The row height of the file list, in px (fixed: the list is windowed).
 */
export const FILE_ROW_HEIGHT = 26;

/**
 * Properties of `WorkspaceBrowser`.
 */
export interface IWorkspaceBrowserProps {
  model: WorkspaceModel;
  uploads: UploadManager;
  trans: TranslationBundle;
  /** Upload picked or dropped files into the open folder. */
  onFiles: (files: IPickedFile[]) => void;
  /** Preview a file. */
  onPreview: (item: IWorkspaceItem) => void;
  /** Show an error. */
  onError: (message: string) => void;
}

/**
 * The body of the Workspace panel: space picker, breadcrumb, sortable
 * windowed file list (pages fetched by cursor as it scrolls) accepting drops
 * of files and folders, and the uploads dock.
 */
export function WorkspaceBrowser(props: IWorkspaceBrowserProps): JSX.Element {
  const { model, uploads, trans, onFiles, onPreview, onError } = props;
  useSignal(model.changed);
  const [dragging, setDragging] = React.useState(false);
  const depth = React.useRef(0);
  const loadMore = React.useCallback(() => void model.loadMore(), [model]);
  const select = React.useCallback(
    (path: string) => model.select(path),
    [model]
  );
  const activate = React.useCallback(
    (item: IWorkspaceItem) => {
      if (item.type === 'folder') {
        void model.open(item.path);
      } else {
        onPreview(item);
      }
    },
    [model, onPreview]
  );

  const onDrop = (event: React.DragEvent) => {
    event.preventDefault();
    event.stopPropagation();
    depth.current = 0;
    setDragging(false);
    // Take the entries now: the DataTransfer is emptied once this returns.
    filesFromDrop(event.dataTransfer)
      .then(files => {
        if (files.length > 0) {
          onFiles(files);
        }
      })
      .catch(error => onError(String(error)));
  };
  const hasFiles = (event: React.DragEvent) =>
    Array.from(event.dataTransfer.types).includes('Files');

  return (
    <div
      className={`jp-tz-WorkspaceBrowser${dragging ? ' jp-mod-dropTarget' : ''}`}
      data-space={model.space}
      data-path={model.path}
      onDragEnter={event => {
        if (hasFiles(event)) {
          event.preventDefault();
          depth.current++;
          setDragging(true);
        }
      }}
      onDragOver={event => {
        if (hasFiles(event)) {
          event.preventDefault();
          event.dataTransfer.dropEffect = 'copy';
        }
      }}
      onDragLeave={() => {
        depth.current = Math.max(0, depth.current - 1);
        if (depth.current === 0) {
          setDragging(false);
        }
      }}
      onDrop={onDrop}
    >
      <div className="jp-tz-WorkspaceBrowser-top">
        <SpacePicker
          spaces={model.spaces}
          value={model.space}
          trans={trans}
          onChange={space => void model.setSpace(space)}
        />
        <Breadcrumb
          path={model.path}
          trans={trans}
          onOpen={path => void model.open(path)}
        />
      </div>
      {model.error && (
        <div className="jp-tz-Unavailable" role="alert">
          {model.error}
        </div>
      )}
      <SortHeader
        sort={model.sort}
        order={model.order}
        trans={trans}
        onSort={key => void model.setSort(key)}
      />
      <VirtualList<IWorkspaceItem>
        className="jp-tz-WorkspaceList"
        items={model.items}
        rowHeight={FILE_ROW_HEIGHT}
        hasMore={model.hasMore}
        onNeedMore={loadMore}
        label={trans.__('Files')}
        rowKey={item => item.path}
        renderRow={item => (
          <FileRow
            item={item}
            selected={item.path === model.selected}
            trans={trans}
            onSelect={select}
            onActivate={activate}
          />
        )}
        empty={
          !model.loading && !model.error ? (
            <div className="jp-tz-Empty">
              {trans.__(
                'This folder is empty. Drop files or folders here to upload.'
              )}
            </div>
          ) : null
        }
        footer={
          model.loading ? (
            <div className="jp-tz-Empty jp-tz-WorkspaceList-loading">
              {trans.__('Loading…')}
            </div>
          ) : null
        }
      />
      {dragging && (
        <div className="jp-tz-DropHint">
          {trans.__('Drop to upload into %1', model.path || '/')}
        </div>
      )}
      <UploadsView manager={uploads} trans={trans} onError={onError} />
    </div>
  );
}
