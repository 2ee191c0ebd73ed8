import { TranslationBundle } from '@jupyterlab/translation';
import { fileIcon, folderIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IWorkspaceItem } from '../../api/workspace';
import { formatBytes, shortAge } from '../../format';
import { when } from '../../jobs/format';

/**
 * Properties of `FileRow`.
 */
export interface IFileRowProps {
  item: IWorkspaceItem;
  selected: boolean;
  trans: TranslationBundle;
  onSelect: (path: string) => void;
  /** Double click / Enter: open a folder, preview a file. */
  onActivate: (item: IWorkspaceItem) => void;
}

/**
 * One workspace row: icon, name (as text, whatever it contains), size and
 * modification time. Right click selects it for the context menu.
 */
function FileRowComponent(props: IFileRowProps): JSX.Element {
  const { item, selected, trans, onSelect, onActivate } = props;
  const Icon = item.type === 'folder' ? folderIcon : fileIcon;
  return (
    <div
      className={`jp-tz-WorkspaceRow${selected ? ' jp-mod-selected' : ''}`}
      data-path={item.path}
      data-type={item.type}
      title={item.name}
      tabIndex={0}
      aria-selected={selected}
      onMouseDown={() => onSelect(item.path)}
      onContextMenu={() => onSelect(item.path)}
      onFocus={() => onSelect(item.path)}
      onDoubleClick={() => onActivate(item)}
      onKeyDown={event => {
        if (event.key === 'Enter') {
          event.preventDefault();
          onActivate(item);
        }
      }}
    >
      <Icon.react tag="span" className="jp-tz-WorkspaceRow-icon" />
      <span className="jp-tz-WorkspaceRow-name">{item.name}</span>
      <span className="jp-tz-WorkspaceRow-size">
        {item.type === 'file' ? formatBytes(item.size) : ''}
      </span>
      <span
        className="jp-tz-WorkspaceRow-modified"
        title={item.modified ? when(item.modified) : trans.__('unknown')}
      >
        {shortAge(item.modified)}
      </span>
    </div>
  );
}

/**
 * One workspace row, re-rendered only when its item or selection changes.
 */
export const FileRow = React.memo(FileRowComponent);
