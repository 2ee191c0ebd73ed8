import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { registerFromJobHandler } from '../register';

/**
 * Properties of `RegisterModelButton`.
 */
export interface IRegisterModelButtonProps {
  /** The job id. */
  job: string;
  /** The job name (proposes the model name). */
  name: string;
  trans: TranslationBundle;
  disabled?: boolean;
}

/**
 * "Register model" in a succeeded job's header: opens the models plugin's
 * dialog (name, folder of the output), registers the folder and opens the
 * model view. Nothing when the models plugin is not active.
 */
export function RegisterModelButton(
  props: IRegisterModelButtonProps
): JSX.Element | null {
  const { job, name, trans, disabled } = props;
  const handler = registerFromJobHandler();
  if (!handler) {
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
      onClick={() => handler(job, name)}
    >
      {trans.__('Register model')}
    </button>
  );
}
