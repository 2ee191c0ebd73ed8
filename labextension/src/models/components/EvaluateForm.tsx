import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { EVALUATION_TASKS, EvaluationTask } from '../../api/models';
import { IEvaluateDraft } from '../forms';

/**
 * Properties of `EvaluateForm`.
 */
export interface IEvaluateFormProps {
  initial: IEvaluateDraft;
  /** The evaluated version's ref. */
  source: string;
  /** Dataset version refs to suggest. */
  datasets: ReadonlyArray<string>;
  /** The problem of the last attempt, if any. */
  error: string | null;
  trans: TranslationBundle;
  onChange: (value: IEvaluateDraft) => void;
}

/**
 * The fields of the Evaluate dialog: dataset version, split, task, batch
 * size, and the target column or the script where the task needs them.
 */
export function EvaluateForm(props: IEvaluateFormProps): JSX.Element {
  const { trans, source, datasets, error } = props;
  const [value, setValue] = React.useState<IEvaluateDraft>(props.initial);
  const update = (patch: Partial<IEvaluateDraft>) => {
    const next = { ...value, ...patch };
    setValue(next);
    props.onChange(next);
  };
  const listId = 'tz-evaluate-datasets';
  const tabular =
    value.task === 'tabular_classification' || value.task === 'regression';
  return (
    <div className="jp-tz-ModelForm jp-tz-EvaluateForm">
      <p className="jp-tz-ModelForm-source">
        {trans.__('Version: %1', source)}
      </p>
      {error && (
        <div className="jp-tz-Field-error" role="alert">
          {error}
        </div>
      )}
      <label className="jp-tz-Field">
        <span className="jp-tz-Field-label">{trans.__('Dataset version')}</span>
        <input
          className="jp-tz-Input"
          name="dataset"
          list={listId}
          placeholder="owner/name:V001"
          value={value.dataset}
          onChange={e => update({ dataset: e.target.value })}
        />
      </label>
      <datalist id={listId}>
        {datasets.map(d => (
          <option key={d} value={d} />
        ))}
      </datalist>
      <div className="jp-tz-ModelForm-row">
        <label className="jp-tz-Field">
          <span className="jp-tz-Field-label">{trans.__('Split')}</span>
          <select
            className="jp-tz-Input"
            name="split"
            value={value.split}
            onChange={e => update({ split: e.target.value })}
          >
            <option value="test">test</option>
            <option value="val">val</option>
            <option value="train">train</option>
            <option value="all">{trans.__('all files')}</option>
          </select>
        </label>
        <label className="jp-tz-Field">
          <span className="jp-tz-Field-label">{trans.__('Batch size')}</span>
          <input
            className="jp-tz-Input"
            name="batch_size"
            inputMode="numeric"
            value={value.batchSize}
            onChange={e => update({ batchSize: e.target.value })}
          />
        </label>
      </div>
      <label className="jp-tz-Field">
        <span className="jp-tz-Field-label">{trans.__('Task')}</span>
        <select
          className="jp-tz-Input"
          name="task"
          value={value.task}
          onChange={e => update({ task: e.target.value as EvaluationTask })}
        >
          {EVALUATION_TASKS.map(t => (
            <option key={t} value={t}>
              {t.replace(/_/g, ' ')}
            </option>
          ))}
        </select>
      </label>
      {tabular && (
        <label className="jp-tz-Field">
          <span className="jp-tz-Field-label">
            {trans.__('Target column (optional)')}
          </span>
          <input
            className="jp-tz-Input"
            name="target"
            value={value.target}
            onChange={e => update({ target: e.target.value })}
          />
        </label>
      )}
      {value.task === 'custom' && (
        <label className="jp-tz-Field">
          <span className="jp-tz-Field-label">
            {trans.__('Evaluation script')}
          </span>
          <input
            className="jp-tz-Input"
            name="script"
            placeholder="evaluate.py"
            value={value.script}
            onChange={e => update({ script: e.target.value })}
          />
          <span className="jp-tz-Field-hint">
            {trans.__(
              'Defines evaluate(model_path, dataset_path) -> dict; its path is relative to the job snapshot.'
            )}
          </span>
        </label>
      )}
      <span className="jp-tz-Field-hint">
        {trans.__(
          'Speed (latency p50/p95 at batch 1, throughput at the batch size, peak memory) is measured too.'
        )}
      </span>
    </div>
  );
}
