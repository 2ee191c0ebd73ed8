import * as React from 'react';

/**
 * Properties of `Field`.
 */
export interface IFieldProps {
  label: string;
  /** A hint shown under the input. */
  hint?: string;
  children: React.ReactNode;
}

/**
 * A labelled input of a dialog form (`label.jp-tz-Field`): the label text, the
 * input and an optional hint.
 */
export function Field(props: IFieldProps): JSX.Element {
  return (
    <label className="jp-tz-Field">
      <span className="jp-tz-Field-label">{props.label}</span>
      {props.children}
      {props.hint && <span className="jp-tz-Field-hint">{props.hint}</span>}
    </label>
  );
}
