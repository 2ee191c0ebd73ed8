import * as React from 'react';

import { EVALUATION_TASKS, EvaluationTask } from '../../api/models';
import { Datalist } from '../../components/Datalist';
import { SelectField } from '../../components/SelectField';
import { TextField } from '../../components/TextField';
import { useDraft } from '../../hooks';
import { IEvaluateDraft } from '../forms';
import { IDraftFormProps, ModelForm } from './ModelForm';
import { SplitField } from './SplitField';

/**
 * Properties of `EvaluateForm`.
 */
export interface IEvaluateFormProps extends IDraftFormProps<IEvaluateDraft> {
  /** The evaluated version's ref. */
  source: string;
  /** Dataset version refs to suggest. */
  datasets: ReadonlyArray<string>;
}

/**
 * The fields of the Evaluate dialog: dataset version, split, task, batch
 * size, and the target column or the script where the task needs them.
 */
export function EvaluateForm(props: IEvaluateFormProps): JSX.Element {
  const { trans, source, datasets, error } = props;
  const [value, update] = useDraft(props.initial, props.onChange);
  const listId = 'tz-evaluate-datasets';
  const tabular =
    value.task === 'tabular_classification' || value.task === 'regression';
  return (
    <ModelForm
      className="jp-tz-EvaluateForm"
      source={trans.__('Version: %1', source)}
      error={error}
    >
      <TextField
        label={trans.__('Dataset version')}
        name="dataset"
        list={listId}
        placeholder="owner/name:V001"
        value={value.dataset}
        onChange={dataset => update({ dataset })}
      />
      <Datalist id={listId} values={datasets} />
      <div className="jp-tz-ModelForm-row">
        <SplitField
          value={value.split}
          trans={trans}
          onChange={split => update({ split })}
        />
        <TextField
          label={trans.__('Batch size')}
          name="batch_size"
          inputMode="numeric"
          value={value.batchSize}
          onChange={batchSize => update({ batchSize })}
        />
      </div>
      <SelectField
        label={trans.__('Task')}
        name="task"
        value={value.task}
        onChange={task => update({ task: task as EvaluationTask })}
      >
        {EVALUATION_TASKS.map(t => (
          <option key={t} value={t}>
            {t.replace(/_/g, ' ')}
          </option>
        ))}
      </SelectField>
      {tabular && (
        <TextField
          label={trans.__('Target column (optional)')}
          name="target"
          value={value.target}
          onChange={target => update({ target })}
        />
      )}
      {value.task === 'custom' && (
        <TextField
          label={trans.__('Evaluation script')}
          name="script"
          placeholder="evaluate.py"
          value={value.script}
          onChange={script => update({ script })}
          hint={trans.__(
            'Defines evaluate(model_path, dataset_path) -> dict; its path is relative to the job snapshot.'
          )}
        />
      )}
      <span className="jp-tz-Field-hint">
        {trans.__(
          'Speed (latency p50/p95 at batch 1, throughput at the batch size, peak memory) is measured too.'
        )}
      </span>
    </ModelForm>
  );
}
