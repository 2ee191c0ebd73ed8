import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { DATASET_TYPES, IDatasetCreate, Visibility } from '../../api/datasets';
import { SelectField } from '../../components/SelectField';
import { TextField } from '../../components/TextField';
import { useDraft } from '../../hooks';

/**
 * Properties of `CreateDatasetForm`.
 */
export interface ICreateDatasetFormProps {
  initial: IDatasetCreate;
  /** The caller's teams (for team visibility). */
  teams: ReadonlyArray<string>;
  /** The workspace folder the files will come from, if any. */
  source?: string;
  trans: TranslationBundle;
  /** Called on every edit with the body to send. */
  onChange: (value: IDatasetCreate) => void;
}

/**
 * The fields of the "New dataset" dialog: name, type, description,
 * visibility (and team), labels (comma separated).
 */
export function CreateDatasetForm(props: ICreateDatasetFormProps): JSX.Element {
  const { trans, teams } = props;
  const [value, update] = useDraft(props.initial, props.onChange);
  const [labels, setLabels] = React.useState(
    (props.initial.labels ?? []).join(', ')
  );
  const typeNames: Record<string, string> = {
    image_classification: trans.__('Image classification'),
    object_detection: trans.__('Object detection'),
    text: trans.__('Text'),
    tabular: trans.__('Tabular'),
    generic: trans.__('Generic')
  };
  return (
    <div className="jp-tz-CreateDataset">
      {props.source !== undefined && (
        <p className="jp-tz-CreateDataset-source">
          {trans.__('Files from workspace folder: %1', props.source || '/')}
        </p>
      )}
      <TextField
        label={trans.__('Name')}
        name="name"
        value={value.name}
        pattern="[a-z0-9][a-z0-9_\-]{0,62}"
        placeholder="my-dataset"
        onChange={name => update({ name })}
        hint={trans.__('Lower-case letters, digits, - and _')}
      />
      <SelectField
        label={trans.__('Type')}
        name="type"
        value={value.type}
        onChange={type => update({ type: type as IDatasetCreate['type'] })}
      >
        {DATASET_TYPES.map(t => (
          <option key={t} value={t}>
            {typeNames[t]}
          </option>
        ))}
      </SelectField>
      <TextField
        label={trans.__('Labels')}
        name="labels"
        value={labels}
        placeholder="cat, dog"
        onChange={text => {
          setLabels(text);
          update({
            labels: text
              .split(',')
              .map(s => s.trim())
              .filter(Boolean)
          });
        }}
      />
      <SelectField
        label={trans.__('Visibility')}
        name="visibility"
        value={value.visibility ?? 'private'}
        onChange={v => {
          const visibility = v as Visibility;
          update({
            visibility,
            team:
              visibility === 'team' ? (value.team ?? teams[0] ?? null) : null
          });
        }}
      >
        <option value="private">{trans.__('Private')}</option>
        {teams.length > 0 && <option value="team">{trans.__('Team')}</option>}
        <option value="public">{trans.__('Public')}</option>
      </SelectField>
      {value.visibility === 'team' && (
        <SelectField
          label={trans.__('Team')}
          name="team"
          value={value.team ?? ''}
          onChange={team => update({ team })}
        >
          {teams.map(t => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </SelectField>
      )}
      <TextField
        label={trans.__('Description')}
        name="description"
        rows={3}
        value={value.description ?? ''}
        onChange={description => update({ description })}
      />
    </div>
  );
}
