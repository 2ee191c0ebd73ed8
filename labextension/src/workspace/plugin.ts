/**
 * The `training-zoo:workspace` plugin: the Workspace sidebar panel, resumable
 * uploads, row commands (context menu on `.jp-tz-WorkspaceRow`) and file
 * previews.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { errorMessage } from '../api/request';
import { IWorkspaceItem } from '../api/workspace';
import { workspaceIcon } from '../icons';
import { notifyError, openMain } from '../shell';
import {
  DatasetCommandIDs,
  WORKSPACE_PLUGIN_ID,
  WorkspaceCommandIDs as IDs
} from '../tokens';
import { UploadManager } from '../uploads/manager';
import { joinPath } from '../uploads/plan';
import * as actions from './actions';
import { IPickedFile } from './dnd';
import { WorkspaceModel } from './model';
import { WorkspacePanel } from './panel';
import { createPreviewWidget } from './preview';

/**
 * The workspace plugin.
 */
export const workspacePlugin: JupyterFrontEndPlugin<void> = {
  id: WORKSPACE_PLUGIN_ID,
  description:
    'Training Zoo workspace: browse, upload (resumable, folders), manage and preview files on object storage.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ITranslator,
    ICommandPalette,
    IDefaultFileBrowser
  ],
  activate
};

function activate(
  app: JupyterFrontEnd,
  restorer: ILayoutRestorer | null,
  translator: ITranslator | null,
  palette: ICommandPalette | null,
  defaultBrowser: IDefaultFileBrowser | null
): void {
  const { commands, shell, serviceManager } = app;
  const settings = serviceManager.serverSettings;
  translator = translator ?? nullTranslator;
  const trans = translator.load('training-zoo');

  const model = new WorkspaceModel(settings);
  const uploads = new UploadManager({ serverSettings: settings });

  // Refresh the open folder when an upload into it (or below it) finishes;
  // coalesced, since a folder of thousands of files completes many at once.
  let refreshTimer: number | null = null;
  uploads.completed.connect((_, { task }) => {
    if (task.space !== model.space || refreshTimer !== null) {
      return;
    }
    const folder = model.path;
    if (folder && !task.path.startsWith(folder + '/')) {
      return;
    }
    refreshTimer = window.setTimeout(() => {
      refreshTimer = null;
      void model.refresh();
    }, 1000);
  });

  const onFiles = (files: IPickedFile[]) => {
    if (!model.space) {
      notifyError(trans.__('No workspace space is available.'));
      return;
    }
    uploads.add(
      files.map(f => ({
        file: f.file,
        space: model.space,
        path: joinPath(model.path, f.relativePath),
        label: f.relativePath
      }))
    );
  };

  const onPreview = (item: IWorkspaceItem) => {
    const content = createPreviewWidget({
      space: model.space,
      item,
      settings,
      trans
    });
    openMain(shell, content, {
      label: item.name,
      caption: item.path,
      icon: workspaceIcon
    });
  };

  const panel = new WorkspacePanel({
    model,
    uploads,
    commands,
    translator,
    onFiles,
    onPreview,
    onError: notifyError
  });
  shell.add(panel, 'left', { rank: 450 });
  restorer?.add(panel, 'tz-workspace-panel');
  void app.restored.then(() => uploads.restore());

  /** Run an action, showing its error. */
  const run = (action: () => Promise<unknown> | void) => async () => {
    try {
      await action();
    } catch (error) {
      notifyError(errorMessage(error));
    }
  };
  const selected = () => model.selectedItem;
  const hasSelection = () => selected() !== null;
  const labFolder = () => defaultBrowser?.model.path ?? '';

  commands.addCommand(IDs.openPanel, {
    label: trans.__('Show Workspace'),
    icon: args => (args.isPalette ? undefined : workspaceIcon),
    execute: () => shell.activateById(panel.id)
  });
  commands.addCommand(IDs.newFolder, {
    label: trans.__('New Folder'),
    caption: trans.__('Create a folder in the open workspace folder'),
    execute: run(() => actions.newFolder(model, trans))
  });
  commands.addCommand(IDs.upload, {
    label: trans.__('Upload Files'),
    caption: trans.__('Upload files into the open workspace folder'),
    execute: () => panel.pickFiles()
  });
  commands.addCommand(IDs.uploadFolder, {
    label: trans.__('Upload Folder'),
    caption: trans.__('Upload a whole folder into the open workspace folder'),
    execute: () => panel.pickFolder()
  });
  commands.addCommand(IDs.copyFromLab, {
    label: trans.__('From Lab'),
    caption: trans.__(
      'Copy a file or folder of your Lab home into the workspace'
    ),
    execute: run(() => {
      const picked = defaultBrowser
        ? Array.from(defaultBrowser.selectedItems())[0]
        : undefined;
      return actions.fromLabHome(model, picked?.path ?? labFolder(), trans);
    })
  });
  commands.addCommand(IDs.refresh, {
    label: trans.__('Refresh Workspace'),
    caption: trans.__('Reload the open workspace folder'),
    execute: () => model.refresh()
  });
  commands.addCommand(IDs.open, {
    label: () =>
      selected()?.type === 'folder' ? trans.__('Open') : trans.__('Preview'),
    isEnabled: hasSelection,
    execute: async () => {
      const item = selected();
      if (item?.type === 'folder') {
        await model.open(item.path);
      } else if (item) {
        onPreview(item);
      }
    }
  });
  commands.addCommand(IDs.rename, {
    label: trans.__('Rename…'),
    isEnabled: hasSelection,
    execute: run(() => actions.rename(model, selected()!, trans))
  });
  commands.addCommand(IDs.move, {
    label: trans.__('Move…'),
    isEnabled: hasSelection,
    execute: run(() => actions.transfer(model, selected()!, 'move', trans))
  });
  commands.addCommand(IDs.copy, {
    label: trans.__('Copy…'),
    isEnabled: hasSelection,
    execute: run(() => actions.transfer(model, selected()!, 'copy', trans))
  });
  commands.addCommand(IDs.delete, {
    label: trans.__('Delete…'),
    isEnabled: hasSelection,
    execute: run(() => actions.remove(model, selected()!, trans))
  });
  commands.addCommand(IDs.download, {
    label: () =>
      selected()?.type === 'folder'
        ? trans.__('Download as ZIP')
        : trans.__('Download'),
    isEnabled: hasSelection,
    execute: () => {
      const item = selected();
      if (item) {
        actions.download(model, item);
      }
    }
  });
  commands.addCommand(IDs.copyToLab, {
    label: trans.__('Copy to Lab Home…'),
    isEnabled: hasSelection,
    execute: run(async () => {
      const path = await actions.toLabHome(
        model,
        selected()!,
        labFolder(),
        trans
      );
      if (path) {
        Notification.success(trans.__('Copied to %1', path), {
          autoClose: 3000
        });
      }
    })
  });

  commands.addCommand(DatasetCommandIDs.createFromFolder, {
    label: trans.__('Create Dataset from Folder…'),
    isVisible: () => selected()?.type === 'folder',
    execute: async () => {
      const item = selected();
      if (item?.type === 'folder') {
        await commands.execute(DatasetCommandIDs.create, {
          space: model.space,
          path: item.path
        });
      }
    }
  });

  const selector = '.jp-tz-WorkspaceRow';
  let rank = 0;
  for (const command of [
    IDs.open,
    IDs.download,
    IDs.rename,
    IDs.move,
    IDs.copy,
    IDs.copyToLab,
    DatasetCommandIDs.createFromFolder,
    IDs.delete
  ]) {
    app.contextMenu.addItem({ command, selector, rank: rank++ });
  }

  if (palette) {
    const category = trans.__('Training Zoo');
    for (const command of [IDs.openPanel, IDs.upload, IDs.newFolder]) {
      palette.addItem({ command, category });
    }
  }
}
