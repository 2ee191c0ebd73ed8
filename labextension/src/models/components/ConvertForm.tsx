import * as React from 'react';

import { CONVERSION_TARGETS, ConversionTarget } from '../../api/models';
import { Datalist } from '../../components/Datalist';
import { SelectField } from '../../components/SelectField';
import { TextField } from '../../components/TextField';
import { useDraft } from '../../hooks';
import { conversionTargets, DEFAULT_TOLERANCES, IConvertDraft } from '../forms';
import { IDraftFormProps, ModelForm } from './ModelForm';
import { SplitField } from './SplitField';

/**
 * Properties of `ConvertForm`.
 */
export interface IConvertFormProps extends IDraftFormProps<IConvertDraft> {
  /** The source version's ref and format. */
  source: { ref: string; format: string };
  /** Dataset version refs to suggest. */
  datasets: ReadonlyArray<string>;
}

/**
 * The fields of the Convert dialog: target, opset (ONNX), parity tolerances
 * and samples, and an optional dataset version for the parity inputs.
 */
export function ConvertForm(props: IConvertFormProps): JSX.Element {
  const { trans, source, datasets, error } = props;
  const [value, update] = useDraft(props.initial, props.onChange);
  const fitting = conversionTargets(source.format);
  const names: Record<ConversionTarget, string> = {
    onnx: trans.__('ONNX'),
    torchscript: trans.__('TorchScript'),
    int8: trans.__('ONNX INT8 (dynamic quantization)'),
    fp16: trans.__('ONNX FP16')
  };
  const listId = 'tz-convert-datasets';
  return (
    <ModelForm
      className="jp-tz-ConvertForm"
      source={trans.__('Source: %1 (%2)', source.ref, source.format)}
      error={error}
    >
      <SelectField
        label={trans.__('Convert to')}
        name="to"
        value={value.to}
        onChange={to => update({ to: to as ConversionTarget })}
      >
        {CONVERSION_TARGETS.map(t => (
          <option key={t} value={t} disabled={!fitting.includes(t)}>
            {fitting.includes(t)
              ? names[t]
              : trans.__('%1 (not from %2)', names[t], source.format)}
          </option>
        ))}
      </SelectField>
      {value.to === 'onnx' && (
        <TextField
          label={trans.__('Opset')}
          name="opset"
          inputMode="numeric"
          value={value.opset}
          onChange={opset => update({ opset })}
        />
      )}
      <div className="jp-tz-ModelForm-row">
        <TextField
          label={trans.__('Tolerance (abs)')}
          name="tolerance_abs"
          placeholder={String(DEFAULT_TOLERANCES[value.to][0])}
          value={value.toleranceAbs}
          onChange={toleranceAbs => update({ toleranceAbs })}
        />
        <TextField
          label={trans.__('Tolerance (rel)')}
          name="tolerance_rel"
          placeholder={String(DEFAULT_TOLERANCES[value.to][1])}
          value={value.toleranceRel}
          onChange={toleranceRel => update({ toleranceRel })}
        />
        <TextField
          label={trans.__('Samples')}
          name="samples"
          inputMode="numeric"
          placeholder="16"
          value={value.samples}
          onChange={samples => update({ samples })}
        />
      </div>
      <span className="jp-tz-Field-hint">
        {trans.__(
          'The conversion fails when outputs differ by more than the tolerances on the sample inputs.'
        )}
      </span>
      <div className="jp-tz-ModelForm-row">
        <TextField
          label={trans.__('Dataset (optional)')}
          name="dataset"
          list={listId}
          placeholder="owner/name:V001"
          value={value.dataset}
          onChange={dataset => update({ dataset })}
        />
        <SplitField
          value={value.split}
          disabled={!value.dataset}
          trans={trans}
          onChange={split => update({ split })}
        />
      </div>
      <Datalist id={listId} values={datasets} />
    </ModelForm>
  );
}
