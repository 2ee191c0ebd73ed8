import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { DATASET_TYPES, IDatasetCreate, Visibility } from '../../api/datasets';

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
  const [value, setValue] = React.useState<IDatasetCreate>(props.initial);
  const [labels, setLabels] = React.useState(
    (props.initial.labels ?? []).join(', ')
  );
  const update = (patch: Partial<IDatasetCreate>) => {
    const next = { ...value, ...patch };
    setValue(next);
    props.onChange(next);
  };
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
      <label className="jp-tz-Field">
        <span className="jp-tz-Field-label">{trans.__('Name')}</span>
        <input
          className="jp-tz-Input"
          name="name"
          value={value.name}
          pattern="[a-z0-9][a-z0-9_\-]{0,62}"
          placeholder="my-dataset"
          onChange={e => update({ name: e.target.value })}
        />
        <span className="jp-tz-Field-hint">
          {trans.__('Lower-case letters, digits, - and _')}
        </span>
      </label>
      <label className="jp-tz-Field">
        <span className="jp-tz-Field-label">{trans.__('Type')}</span>
        <select
          className="jp-tz-Input"
          name="type"
          value={value.type}
          onChange={e =>
            update({ type: e.target.value as IDatasetCreate['type'] })
          }
        >
          {DATASET_TYPES.map(t => (
            <option key={t} value={t}>
              {typeNames[t]}
            </option>
          ))}
        </select>
      </label>
      <label className="jp-tz-Field">
        <span className="jp-tz-Field-label">{trans.__('Labels')}</span>
        <input
          className="jp-tz-Input"
          name="labels"
          value={labels}
          placeholder="cat, dog"
          onChange={e => {
            setLabels(e.target.value);
            update({
              labels: e.target.value
                .split(',')
                .map(s => s.trim())
                .filter(Boolean)
            });
          }}
        />
      </label>
      <label className="jp-tz-Field">
        <span className="jp-tz-Field-label">{trans.__('Visibility')}</span>
        <select
          className="jp-tz-Input"
          name="visibility"
          value={value.visibility ?? 'private'}
          onChange={e => {
            const visibility = e.target.value as Visibility;
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
        </select>
      </label>
      {value.visibility === 'team' && (
        <label className="jp-tz-Field">
          <span className="jp-tz-Field-label">{trans.__('Team')}</span>
          <select
            className="jp-tz-Input"
            name="team"
            value={value.team ?? ''}
            onChange={e => update({ team: e.target.value })}
          >
            {teams.map(t => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
      )}
      <label className="jp-tz-Field">
        <span className="jp-tz-Field-label">{trans.__('Description')}</span>
        <textarea
          className="jp-tz-Input"
          name="description"
          rows={3}
          value={value.description ?? ''}
          onChange={e => update({ description: e.target.value })}
        />
      </label>
    </div>
  );
}
