import * as React from 'react';

import { Field } from './Field';

/**
 * Properties of `TextField`.
 */
export interface ITextFieldProps {
  label: string;
  /** The input's `name`. */
  name: string;
  /** The value; uncontrolled when absent. */
  value?: string;
  onChange: (value: string) => void;
  hint?: string;
  placeholder?: string;
  pattern?: string;
  inputMode?: React.HTMLAttributes<HTMLInputElement>['inputMode'];
  /** The id of a `datalist` of suggestions. */
  list?: string;
  /** A textarea of that many rows instead of an input. */
  rows?: number;
}

/**
 * A labelled text input (or textarea) of a dialog form.
 */
export function TextField(props: ITextFieldProps): JSX.Element {
  const { label, hint, rows, onChange, ...input } = props;
  return (
    <Field label={label} hint={hint}>
      {rows === undefined ? (
        <input
          className="jp-tz-Input"
          {...input}
          onChange={e => onChange(e.target.value)}
        />
      ) : (
        <textarea
          className="jp-tz-Input"
          name={input.name}
          rows={rows}
          value={input.value}
          onChange={e => onChange(e.target.value)}
        />
      )}
    </Field>
  );
}
