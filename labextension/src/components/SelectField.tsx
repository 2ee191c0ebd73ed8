import * as React from 'react';

import { Field } from './Field';

/**
 * Properties of `SelectField`.
 */
export interface ISelectFieldProps {
  label: string;
  /** The select's `name`. */
  name: string;
  value: string;
  onChange: (value: string) => void;
  disabled?: boolean;
  /** The `option`s. */
  children: React.ReactNode;
}

/**
 * A labelled select of a dialog form.
 */
export function SelectField(props: ISelectFieldProps): JSX.Element {
  const { label, onChange, children, ...select } = props;
  return (
    <Field label={label}>
      <select
        className="jp-tz-Input"
        {...select}
        onChange={e => onChange(e.target.value)}
      >
        {children}
      </select>
    </Field>
  );
}
