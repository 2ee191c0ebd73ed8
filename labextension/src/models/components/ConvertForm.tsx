import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { CONVERSION_TARGETS, ConversionTarget } from '../../api/models';
import { conversionTargets, DEFAULT_TOLERANCES, IConvertDraft } from '../forms';

/**
 * Properties of `ConvertForm`.
 */
export interface IConvertFormProps {
  initial: IConvertDraft;
  /** The source version's ref and format. */
  source: { ref: string; format: string };
  /** Dataset version refs to suggest. */
  datasets: ReadonlyArray<string>;
  /** The problem of the last attempt, if any. */
  error: string | null;
  trans: TranslationBundle;
  onChange: (value: IConvertDraft) => void;
}

/**
 * The fields of the Convert dialog: target, opset (ONNX), parity tolerances
 * and samples, and an optional dataset version for the parity inputs.
 */
export function ConvertForm(props: IConvertFormProps): JSX.Element {
  const { trans, source, datasets, error } = props;
  const [value, setValue] = React.useState<IConvertDraft>(props.initial);
  const update = (patch: Partial<IConvertDraft>) => {
    const next = { ...value, ...patch };
    setValue(next);
    props.onChange(next);
  };
  const fitting = conversionTargets(source.format);
  const names: Record<ConversionTarget, string> = {
    onnx: trans.__('ONNX'),
    torchscript: trans.__('TorchScript'),
    int8: trans.__('ONNX INT8 (dynamic quantization)'),
    fp16: trans.__('ONNX FP16')
  };
  const listId = 'tz-convert-datasets';
  return (
    <div className="jp-tz-ModelForm jp-tz-ConvertForm">
      <p className="jp-tz-ModelForm-source">
        {trans.__('Source: %1 (%2)', source.ref, source.format)}
      </p>
      {error && (
        <div className="jp-tz-Field-error" role="alert">
          {error}
        </div>
      )}
      <label className="jp-tz-Field">
        <span className="jp-tz-Field-label">{trans.__('Convert to')}</span>
        <select
          className="jp-tz-Input"
          name="to"
          value={value.to}
          onChange={e => update({ to: e.target.value as ConversionTarget })}
        >
          {CONVERSION_TARGETS.map(t => (
            <option key={t} value={t} disabled={!fitting.includes(t)}>
              {fitting.includes(t)
                ? names[t]
                : trans.__('%1 (not from %2)', names[t], source.format)}
            </option>
          ))}
        </select>
      </label>
      {value.to === 'onnx' && (
        <label className="jp-tz-Field">
          <span className="jp-tz-Field-label">{trans.__('Opset')}</span>
          <input
            className="jp-tz-Input"
            name="opset"
            inputMode="numeric"
            value={value.opset}
            onChange={e => update({ opset: e.target.value })}
          />
        </label>
      )}
      <div className="jp-tz-ModelForm-row">
        <label className="jp-tz-Field">
          <span className="jp-tz-Field-label">
            {trans.__('Tolerance (abs)')}
          </span>
          <input
            className="jp-tz-Input"
            name="tolerance_abs"
            placeholder={String(DEFAULT_TOLERANCES[value.to][0])}
            value={value.toleranceAbs}
            onChange={e => update({ toleranceAbs: e.target.value })}
          />
        </label>
        <label className="jp-tz-Field">
          <span className="jp-tz-Field-label">
            {trans.__('Tolerance (rel)')}
          </span>
          <input
            className="jp-tz-Input"
            name="tolerance_rel"
            placeholder={String(DEFAULT_TOLERANCES[value.to][1])}
            value={value.toleranceRel}
            onChange={e => update({ toleranceRel: e.target.value })}
          />
        </label>
        <label className="jp-tz-Field">
          <span className="jp-tz-Field-label">{trans.__('Samples')}</span>
          <input
            className="jp-tz-Input"
            name="samples"
            inputMode="numeric"
            placeholder="16"
            value={value.samples}
            onChange={e => update({ samples: e.target.value })}
          />
        </label>
      </div>
      <span className="jp-tz-Field-hint">
        {trans.__(
          'The conversion fails when outputs differ by more than the tolerances on the sample inputs.'
        )}
      </span>
      <div className="jp-tz-ModelForm-row">
        <label className="jp-tz-Field">
          <span className="jp-tz-Field-label">
            {trans.__('Dataset (optional)')}
          </span>
          <input
            className="jp-tz-Input"
            name="dataset"
            list={listId}
            placeholder="owner/name:V001"
            value={value.dataset}
            onChange={e => update({ dataset: e.target.value })}
          />
        </label>
        <label className="jp-tz-Field">
          <span className="jp-tz-Field-label">{trans.__('Split')}</span>
          <select
            className="jp-tz-Input"
            name="split"
            value={value.split}
            disabled={!value.dataset}
            onChange={e => update({ split: e.target.value })}
          >
            <option value="test">test</option>
            <option value="val">val</option>
            <option value="train">train</option>
            <option value="all">{trans.__('all files')}</option>
          </select>
        </label>
      </div>
      <datalist id={listId}>
        {datasets.map(d => (
          <option key={d} value={d} />
        ))}
      </datalist>
    </div>
  );
}
