import * as React from 'react';

import { TextField } from '../../components/TextField';
import { useDraft } from '../../hooks';
import { IRegisterDraft } from '../forms';
import { IDraftFormProps, ModelForm } from './ModelForm';

/**
 * Properties of `RegisterForm`.
 */
export interface IRegisterFormProps extends IDraftFormProps<IRegisterDraft> {
  /** The job whose output holds the model. */
  job: string;
}

/**
 * The fields of the Register model dialog: model name, the folder of the
 * job's output that holds the model, and a description.
 */
export function RegisterForm(props: IRegisterFormProps): JSX.Element {
  const { trans, job, error } = props;
  const [value, update] = useDraft(props.initial, props.onChange);
  return (
    <ModelForm
      className="jp-tz-RegisterForm"
      source={trans.__('From the output of job %1', job)}
      error={error}
    >
      <TextField
        label={trans.__('Model name')}
        name="name"
        value={value.name}
        pattern="[a-z0-9][a-z0-9_\-]{0,62}"
        onChange={name => update({ name })}
        hint={trans.__('An existing name of yours gets a new version.')}
      />
      <TextField
        label={trans.__('Folder')}
        name="path"
        value={value.path}
        onChange={path => update({ path })}
        hint={trans.__(
          'Relative to $TZ_OUTPUT_DIR; its tz-model.json describes the files.'
        )}
      />
      <TextField
        label={trans.__('Description (optional)')}
        name="description"
        rows={2}
        value={value.description}
        onChange={description => update({ description })}
      />
    </ModelForm>
  );
}
