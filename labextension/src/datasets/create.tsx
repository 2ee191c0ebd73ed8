/**
 * The "New dataset" flow: a dialog, `POST /datasets`, then (from a workspace
 * folder) `POST /datasets/{id}/files` with the folder.
 */
import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  addFromWorkspace,
  createDataset,
  IDataset,
  IDatasetCreate
} from '../api/datasets';
import { listSpaces } from '../api/workspace';
import { CreateDatasetForm } from './components/CreateDatasetForm';

/**
 * A workspace folder to fill the new dataset from.
 */
export interface IDatasetSource {
  space: string;
  path: string;
}

/**
 * A dataset name proposed from a folder name: lower case, other characters
 * become "-", at most 63 characters.
 *
 * @param folder - the folder path.
 * @returns the name, or "" when nothing usable is left.
 */
export function nameFromFolder(folder: string): string {
  const last = folder.split('/').filter(Boolean).pop() ?? '';
  return last
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+/, '')
    .slice(0, 63);
}

/**
 * Ask for the dataset's fields and create it.
 *
 * @returns the dataset, or null when cancelled.
 */
export async function createDatasetFlow(
  settings: ServerConnection.ISettings,
  trans: TranslationBundle,
  source?: IDatasetSource
): Promise<IDataset | null> {
  let teams: string[] = [];
  try {
    teams = (await listSpaces(settings))
      .filter(s => s.kind === 'team')
      .map(s => s.name);
  } catch {
    // No workspace: no team choice.
  }
  const initial: IDatasetCreate = {
    name: source ? nameFromFolder(source.path) : '',
    type: 'image_classification',
    description: '',
    visibility: 'private',
    team: null,
    labels: []
  };
  let value = initial;
  const body = ReactWidget.create(
    <CreateDatasetForm
      initial={initial}
      teams={teams}
      source={source?.path}
      trans={trans}
      onChange={v => (value = v)}
    />
  );
  const result = await showDialog({
    title: source
      ? trans.__('Create dataset from folder')
      : trans.__('New dataset'),
    body,
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({ label: trans.__('Create') })
    ]
  });
  if (!result.button.accept) {
    return null;
  }
  const dataset = await createDataset(value, settings);
  if (source) {
    await addFromWorkspace(dataset.id, source.space, source.path, settings);
  }
  return dataset;
}
