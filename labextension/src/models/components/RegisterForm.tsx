import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IRegisterDraft } from '../forms';

/**
 * Properties of `RegisterForm`.
 */
export interface IRegisterFormProps {
  initial: IRegisterDraft;
  /** The job whose output holds the model. */
  job: string;
  /** The problem of the last attempt, if any. */
  error: string | null;
  trans: TranslationBundle;
  onChange: (value: IRegisterDraft) => void;
}

/**
 * The fields of the Register model dialog: model name, the folder of the
 * job's output that holds the model, and a description.
 */
export function RegisterForm(props: IRegisterFormProps): JSX.Element {
  const { trans, job, error } = props;
  const [value, setValue] = React.useState<IRegisterDraft>(props.initial);
  const update = (patch: Partial<IRegisterDraft>) => {
    const next = { ...value, ...patch };
    setValue(next);
    props.onChange(next);
  };
  return (
    <div className="jp-tz-ModelForm jp-tz-RegisterForm">
      <p className="jp-tz-ModelForm-source">
        {trans.__('From the output of job %1', job)}
      </p>
      {error && (
        <div className="jp-tz-Field-error" role="alert">
          {error}
        </div>
      )}
      <label className="jp-tz-Field">
        <span className="jp-tz-Field-label">{trans.__('Model name')}</span>
        <input
          className="jp-tz-Input"
          name="name"
          value={value.name}
          pattern="[a-z0-9][a-z0-9_\-]{0,62}"
          onChange={e => update({ name: e.target.value })}
        />
        <span className="jp-tz-Field-hint">
          {trans.__('An existing name of yours gets a new version.')}
        </span>
      </label>
      <label className="jp-tz-Field">
        <span className="jp-tz-Field-label">{trans.__('Folder')}</span>
        <input
          className="jp-tz-Input"
          name="path"
          value={value.path}
          onChange={e => update({ path: e.target.value })}
        />
        <span className="jp-tz-Field-hint">
          {trans.__(
            'Relative to $TZ_OUTPUT_DIR; its tz-model.json describes the files.'
          )}
        </span>
      </label>
      <label className="jp-tz-Field">
        <span className="jp-tz-Field-label">
          {trans.__('Description (optional)')}
        </span>
        <textarea
          className="jp-tz-Input"
          name="description"
          rows={2}
          value={value.description}
          onChange={e => update({ description: e.target.value })}
        />
      </label>
    </div>
  );
}
