import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { SelectField } from '../../components/SelectField';

/**
 * Properties of `SplitField`.
 */
export interface ISplitFieldProps {
  value: string;
  disabled?: boolean;
  trans: TranslationBundle;
  onChange: (value: string) => void;
}

/**
 * The split of a dataset version a run reads: test, val, train or all files.
 */
export function SplitField(props: ISplitFieldProps): JSX.Element {
  const { trans } = props;
  return (
    <SelectField
      label={trans.__('Split')}
      name="split"
      value={props.value}
      disabled={props.disabled}
      onChange={props.onChange}
    >
      <option value="test">test</option>
      <option value="val">val</option>
      <option value="train">train</option>
      <option value="all">{trans.__('all files')}</option>
    </SelectField>
  );
}
