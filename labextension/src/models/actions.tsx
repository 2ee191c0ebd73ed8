/**
 * The dialogs of the models domain: Convert, Evaluate, Register model (from a
 * job), the confirmation of a stage move and of a deletion. The forms validate
 * their fields and show the dialog again with the problem until they are
 * right or it is cancelled.
 */
import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { listDatasets } from '../api/datasets';
import {
  convertVersion,
  evaluateVersion,
  IModel,
  IModelVersion,
  IRun,
  registerModel,
  Stage
} from '../api/models';
import { TextField } from '../components/TextField';
import { modelNameFrom } from './comparison';
import { ConvertForm } from './components/ConvertForm';
import { EvaluateForm } from './components/EvaluateForm';
import { RegisterForm } from './components/RegisterForm';
import {
  Checked,
  convertBody,
  defaultConvertDraft,
  defaultEvaluateDraft,
  evaluateBody,
  IRegisterDraft,
  registerDraft
} from './forms';
import { promotionNotice } from './stages';

/**
 * Dataset version refs the caller can read, for the dialogs' suggestions
 * (`owner/name:V00N` of each dataset's latest version); empty on failure.
 */
export async function datasetSuggestions(
  settings: ServerConnection.ISettings
): Promise<string[]> {
  try {
    const page = await listDatasets({ limit: 200 }, settings);
    return page.items
      .filter(d => d.latest_version)
      .map(d => `${d.owner}/${d.name}:${d.latest_version}`);
  } catch {
    return [];
  }
}

/**
 * Show a dialog whose body edits a draft until `check` accepts it.
 *
 * @returns the checked body, or null when cancelled.
 */
async function editUntilValid<D, B>(
  title: string,
  accept: string,
  initial: D,
  body: (
    draft: D,
    error: string | null,
    onChange: (d: D) => void
  ) => JSX.Element,
  check: (draft: D) => Checked<B>
): Promise<B | null> {
  let draft = initial;
  let error: string | null = null;
  for (;;) {
    const widget = ReactWidget.create(
      body(draft, error, d => {
        draft = d;
      })
    );
    const result = await showDialog({
      title,
      body: widget,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: accept })]
    });
    if (!result.button.accept) {
      return null;
    }
    const checked = check(draft);
    if (checked.ok) {
      return checked.body;
    }
    error = checked.error;
  }
}

/**
 * Ask for the conversion's settings and start it.
 *
 * @returns the run, or null when cancelled.
 */
export async function convertFlow(
  version: IModelVersion,
  settings: ServerConnection.ISettings,
  trans: TranslationBundle
): Promise<IRun | null> {
  const datasets = await datasetSuggestions(settings);
  const initial = defaultConvertDraft(version.format);
  const source = { ref: version.ref, format: version.format };
  const body = await editUntilValid(
    trans.__('Convert %1', version.ref),
    trans.__('Convert'),
    initial,
    (draft, error, onChange) => (
      <ConvertForm
        initial={draft}
        source={source}
        datasets={datasets}
        error={error}
        trans={trans}
        onChange={onChange}
      />
    ),
    convertBody
  );
  if (!body) {
    return null;
  }
  return convertVersion(version.model_id, version.version, body, settings);
}

/**
 * Ask for the evaluation's settings and start it.
 *
 * @returns the run, or null when cancelled.
 */
export async function evaluateFlow(
  model: IModel,
  version: IModelVersion,
  settings: ServerConnection.ISettings,
  trans: TranslationBundle
): Promise<IRun | null> {
  const datasets = await datasetSuggestions(settings);
  const initial = defaultEvaluateDraft(model.task);
  const trained = version.lineage?.datasets?.[0]?.ref;
  if (trained) {
    initial.dataset = trained;
  } else if (datasets.length > 0) {
    initial.dataset = datasets[0];
  }
  const body = await editUntilValid(
    trans.__('Evaluate %1', version.ref),
    trans.__('Evaluate'),
    initial,
    (draft, error, onChange) => (
      <EvaluateForm
        initial={draft}
        source={version.ref}
        datasets={datasets}
        error={error}
        trans={trans}
        onChange={onChange}
      />
    ),
    evaluateBody
  );
  if (!body) {
    return null;
  }
  return evaluateVersion(version.model_id, version.version, body, settings);
}

/**
 * Ask for the model name and folder, and register the folder of a job's
 * output as a model version.
 *
 * @param job - the job id.
 * @param jobName - the job's name (proposes the model name).
 * @returns the new version, or null when cancelled.
 */
export async function registerFromJobFlow(
  job: string,
  jobName: string,
  settings: ServerConnection.ISettings,
  trans: TranslationBundle
): Promise<IModelVersion | null> {
  const initial: IRegisterDraft = {
    name: modelNameFrom(jobName || job),
    path: 'model',
    description: ''
  };
  const fields = await editUntilValid(
    trans.__('Register model from %1', jobName || job),
    trans.__('Register'),
    initial,
    (draft, error, onChange) => (
      <RegisterForm
        initial={draft}
        job={job}
        error={error}
        trans={trans}
        onChange={onChange}
      />
    ),
    registerDraft
  );
  if (!fields) {
    return null;
  }
  return registerModel(
    {
      name: fields.name,
      source: { job, path: fields.path },
      ...(fields.description ? { description: fields.description } : {})
    },
    settings
  );
}

/**
 * Confirm a stage move; a promotion to production says which version it
 * moves to archived. Asks for an optional comment.
 *
 * @returns the comment ("" for none), or null when cancelled.
 */
export async function confirmStage(
  version: IModelVersion,
  to: Stage,
  production: number | null,
  trans: TranslationBundle
): Promise<string | null> {
  const notice =
    to === 'production' ? promotionNotice(version.version, production) : null;
  let comment = '';
  const body = (
    <div className="jp-tz-ModelForm jp-tz-StageConfirm">
      <p>
        {to === 'production'
          ? trans.__('Promote v%1 to production.', version.version)
          : trans.__('Move v%1 to %2.', version.version, to)}
        {notice ? ` ${trans.__('This %1.', notice)}` : ''}
      </p>
      <TextField
        label={trans.__('Comment (optional)')}
        name="comment"
        onChange={value => {
          comment = value;
        }}
      />
    </div>
  );
  const widget = ReactWidget.create(body);
  const result = await showDialog({
    title:
      to === 'production'
        ? trans.__('Promote to production')
        : trans.__('Change stage'),
    body: widget,
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({
        label: to === 'production' ? trans.__('Promote') : trans.__('Move'),
        displayType: to === 'production' ? 'warn' : 'default'
      })
    ]
  });
  if (!result.button.accept) {
    return null;
  }
  return comment.trim();
}

/**
 * Ask before deleting something (a warn-styled dialog).
 *
 * @param label - the title and the accept button, e.g. "Delete version".
 * @param message - what is deleted, by name.
 * @returns whether the user accepted.
 */
export async function confirmDelete(
  label: string,
  message: string,
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title: label,
    body: message,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: label })
    ]
  });
  return result.button.accept;
}
