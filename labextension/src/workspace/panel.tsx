/**
 * The Workspace sidebar panel (`.jp-tz-WorkspacePanel`): a toolbar (new
 * folder, upload files, upload a folder, upload from Lab home, refresh) over
 * the browser body with its uploads dock.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ReactWidget, ToolbarButton } from '@jupyterlab/apputils';
import { ITranslator } from '@jupyterlab/translation';
import {
  fileUploadIcon,
  folderIcon,
  LabIcon,
  newFolderIcon,
  refreshIcon,
  SidePanel
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { IWorkspaceItem } from '../api/workspace';
import { workspaceIcon } from '../icons';
import { identifySidePanel } from '../sidepanel';
import { WorkspaceCommandIDs } from '../tokens';
import { UploadManager } from '../uploads/manager';
import { WorkspaceBrowser } from './components/WorkspaceBrowser';
import { filesFromInput, IPickedFile } from './dnd';
import { WorkspaceModel } from './model';

/**
 * The Workspace sidebar panel.
 */
export class WorkspacePanel extends SidePanel {
  constructor(options: WorkspacePanel.IOptions) {
    super({ translator: options.translator });
    const { model, uploads, commands } = options;
    const trans = options.translator.load('training-zoo');
    this._model = model;
    identifySidePanel(this, {
      id: 'tz-workspace-panel',
      className: 'jp-tz-WorkspacePanel',
      icon: workspaceIcon,
      title: trans.__('Workspace')
    });

    // Hidden pickers, clicked by the toolbar commands.
    this._filePicker = Private.picker(false, 'jp-tz-UploadFiles');
    this._folderPicker = Private.picker(true, 'jp-tz-UploadFolder');
    for (const input of [this._filePicker, this._folderPicker]) {
      input.addEventListener('change', () => {
        const files = filesFromInput(input.files);
        input.value = '';
        if (files.length > 0) {
          options.onFiles(files);
        }
      });
      this.node.appendChild(input);
    }

    // Labels are given here: the commands are registered after the panel.
    const button = (
      id: string,
      command: string,
      tooltip: string,
      icon?: LabIcon,
      label?: string
    ) =>
      this.toolbar.addItem(
        id,
        new ToolbarButton({
          icon,
          label,
          tooltip,
          className: `jp-tz-${id}`,
          onClick: () => void commands.execute(command)
        })
      );
    button(
      'NewFolderButton',
      WorkspaceCommandIDs.newFolder,
      trans.__('New folder'),
      newFolderIcon
    );
    button(
      'UploadButton',
      WorkspaceCommandIDs.upload,
      trans.__('Upload files'),
      fileUploadIcon
    );
    button(
      'UploadFolderButton',
      WorkspaceCommandIDs.uploadFolder,
      trans.__('Upload a folder'),
      folderIcon,
      trans.__('Folder')
    );
    button(
      'FromLabButton',
      WorkspaceCommandIDs.copyFromLab,
      trans.__('Copy a file or folder of your Lab home here'),
      undefined,
      trans.__('From Lab')
    );
    button(
      'RefreshButton',
      WorkspaceCommandIDs.refresh,
      trans.__('Refresh'),
      refreshIcon
    );

    const body = ReactWidget.create(
      <WorkspaceBrowser
        model={model}
        uploads={uploads}
        trans={trans}
        onFiles={options.onFiles}
        onPreview={options.onPreview}
        onError={options.onError}
      />
    );
    body.addClass('jp-tz-WorkspaceBody');
    body.title.label = trans.__('Files');
    this.addWidget(body);
  }

  /** Open the file picker (several files). */
  pickFiles(): void {
    this._filePicker.click();
  }

  /** Open the folder picker. */
  pickFolder(): void {
    this._folderPicker.click();
  }

  protected onBeforeShow(msg: Message): void {
    super.onBeforeShow(msg);
    if (!this._started) {
      this._started = true;
      void this._model.start();
    }
  }

  private _model: WorkspaceModel;
  private _filePicker: HTMLInputElement;
  private _folderPicker: HTMLInputElement;
  private _started = false;
}

/**
 * The namespace of `WorkspacePanel`.
 */
export namespace WorkspacePanel {
  export interface IOptions {
    model: WorkspaceModel;
    uploads: UploadManager;
    commands: JupyterFrontEnd['commands'];
    translator: ITranslator;
    /** Upload files into the open folder. */
    onFiles: (files: IPickedFile[]) => void;
    onPreview: (item: IWorkspaceItem) => void;
    onError: (message: string) => void;
  }
}

namespace Private {
  export function picker(folder: boolean, className: string): HTMLInputElement {
    const input = document.createElement('input');
    input.type = 'file';
    input.multiple = true;
    input.className = className;
    input.style.display = 'none';
    if (folder) {
      input.setAttribute('webkitdirectory', '');
      input.setAttribute('directory', '');
    }
    return input;
  }
}
