import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IJob } from '../../api/jobs';
import { registerFromJobHandler } from '../register';

/**
 * Properties of `RegisterModelButton`.
 */
export interface IRegisterModelButtonProps {
  /** The job (its name proposes the model name). */
  job: IJob;
  trans: TranslationBundle;
  disabled?: boolean;
}

/**
 * Whether a job is one of the registry's own conversion or evaluation jobs
 * (their output is registered, or is no model, already).
 */
function isRegistryJob(job: IJob): boolean {
  return (job.spec?.command ?? []).includes('training_zoo.models.worker');
}

/**
 * "Register model" in a succeeded job's header: opens the models plugin's
 * dialog (name, folder of the output), registers the folder and opens the
 * model view. Nothing when the models plugin is not active, or for the
 * registry's own conversion and evaluation jobs.
 */
export function RegisterModelButton(
  props: IRegisterModelButtonProps
): JSX.Element | null {
  const { job, trans, disabled } = props;
  const handler = registerFromJobHandler();
  if (!handler || job.status !== 'succeeded' || isRegistryJob(job)) {
    return null;
  }
  return (
    <button
      type="button"
      className="jp-tz-Button jp-tz-RegisterModelButton"
      disabled={disabled}
      title={trans.__(
        'Register a folder of this job output as a model version'
      )}
      onClick={() => handler(job.id, job.name)}
    >
      {trans.__('Register model')}
    </button>
  );
}
