/**
 * The workspace's row and folder actions, with their dialogs: new folder,
 * rename, move, copy, delete (confirmed), download, and copies between the
 * workspace and the Lab home. Each returns once done and refreshes the list;
 * errors propagate to the caller (the command shows them).
 */
import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import {
  copyFromLab,
  copyToLab,
  deleteItem,
  downloadURL,
  IWorkspaceItem,
  makeFolder,
  transferItem
} from '../api/workspace';
import { joinPath } from '../uploads/plan';
import { WorkspaceModel } from './model';

/**
 * The parent folder of a path ("" for top-level items).
 */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/**
 * Ask for a folder name and create it in the open folder.
 */
export async function newFolder(
  model: WorkspaceModel,
  trans: TranslationBundle
): Promise<void> {
  const result = await InputDialog.getText({
    title: trans.__('New folder'),
    label: trans.__('Name'),
    placeholder: trans.__('folder name')
  });
  const name = result.value?.trim();
  if (!result.button.accept || !name) {
    return;
  }
  await makeFolder(
    model.space,
    joinPath(model.path, name),
    model.serverSettings
  );
  await model.refresh();
}

/**
 * Ask for a new name and rename in place.
 */
export async function rename(
  model: WorkspaceModel,
  item: IWorkspaceItem,
  trans: TranslationBundle
): Promise<void> {
  const result = await InputDialog.getText({
    title: trans.__('Rename'),
    label: trans.__('New name'),
    text: item.name
  });
  const name = result.value?.trim();
  if (!result.button.accept || !name || name === item.name) {
    return;
  }
  await transferItem(
    'move',
    model.space,
    item.path,
    joinPath(parentOf(item.path), name),
    false,
    model.serverSettings
  );
  await model.refresh();
}

/**
 * Ask for a target path and move or copy there.
 */
export async function transfer(
  model: WorkspaceModel,
  item: IWorkspaceItem,
  mode: 'move' | 'copy',
  trans: TranslationBundle
): Promise<void> {
  const result = await InputDialog.getText({
    title:
      mode === 'move'
        ? trans.__('Move %1', item.name)
        : trans.__('Copy %1', item.name),
    label: trans.__('Target path in this space'),
    text: mode === 'copy' ? `${item.path}-copy` : item.path
  });
  const target = joinPath(result.value ?? '');
  if (!result.button.accept || !target || target === item.path) {
    return;
  }
  await transferItem(
    mode,
    model.space,
    item.path,
    target,
    false,
    model.serverSettings
  );
  await model.refresh();
}

/**
 * Ask for confirmation, then delete (folders recursively).
 *
 * @returns whether it was deleted.
 */
export async function remove(
  model: WorkspaceModel,
  item: IWorkspaceItem,
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Delete'),
    body:
      item.type === 'folder'
        ? trans.__(
            'Delete the folder "%1" and everything in it? This cannot be undone.',
            item.name
          )
        : trans.__('Delete "%1"? This cannot be undone.', item.name),
    buttons: [
      Dialog.cancelButton(),
      Dialog.warnButton({ label: trans.__('Delete') })
    ]
  });
  if (!result.button.accept) {
    return false;
  }
  await deleteItem(model.space, item.path, model.serverSettings);
  model.select(null);
  await model.refresh();
  return true;
}

/**
 * Download a file, or a folder as one ZIP made while it streams, with a plain
 * link: the same-origin session cookie authenticates the GET, the browser
 * streams it to disk.
 */
export function download(model: WorkspaceModel, item: IWorkspaceItem): void {
  const link = document.createElement('a');
  link.href = downloadURL(model.space, item.path, model.serverSettings);
  link.download = item.type === 'folder' ? `${item.name}.zip` : item.name;
  link.rel = 'noopener';
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
}

/**
 * Copy a workspace file or folder into the Lab home.
 *
 * @param labFolder - the Lab folder proposed as target (the file browser's).
 * @returns the Lab path written, or null when cancelled.
 */
export async function toLabHome(
  model: WorkspaceModel,
  item: IWorkspaceItem,
  labFolder: string,
  trans: TranslationBundle
): Promise<string | null> {
  const result = await InputDialog.getText({
    title: trans.__('Copy to Lab home'),
    label: trans.__('Path in your Lab home'),
    text: joinPath(labFolder, item.name)
  });
  const labPath = joinPath(result.value ?? '');
  if (!result.button.accept || !labPath) {
    return null;
  }
  await copyToLab(model.space, item.path, labPath, model.serverSettings);
  return labPath;
}

/**
 * Copy a Lab file or folder into the open workspace folder.
 *
 * @param proposed - the Lab path proposed (the file browser's selection).
 */
export async function fromLabHome(
  model: WorkspaceModel,
  proposed: string,
  trans: TranslationBundle
): Promise<void> {
  const result = await InputDialog.getText({
    title: trans.__('Upload from Lab home'),
    label: trans.__('File or folder in your Lab home'),
    text: proposed
  });
  const labPath = joinPath(result.value ?? '');
  if (!result.button.accept || !labPath) {
    return;
  }
  const name = labPath.split('/').pop()!;
  await copyFromLab(
    labPath,
    model.space,
    joinPath(model.path, name),
    model.serverSettings
  );
  await model.refresh();
}
