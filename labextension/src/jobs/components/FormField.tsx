import * as React from 'react';

/**
 * Properties of `FormField`.
 */
export interface IFormFieldProps {
  /** The id of the input, for the label. */
  id: string;
  label: string;
  /** A validation message shown under the input. */
  error?: string;
  /** A hint shown under the input when there is no error. */
  hint?: React.ReactNode;
  /** Span both columns of the form grid. */
  wide?: boolean;
  children: React.ReactNode;
}

/**
 * A labelled form input with its hint or validation message.
 */
export function FormField(props: IFormFieldProps): JSX.Element {
  const { id, label, error, hint, wide, children } = props;
  const classes = ['jp-tz-Field'];
  if (wide) {
    classes.push('jp-tz-Field-wide');
  }
  if (error) {
    classes.push('jp-mod-error');
  }
  return (
    <div className={classes.join(' ')}>
      <label className="jp-tz-Field-label" htmlFor={id}>
        {label}
      </label>
      {children}
      {error ? (
        <div className="jp-tz-Field-error" id={`${id}-error`} role="alert">
          {error}
        </div>
      ) : (
        hint && <div className="jp-tz-Field-hint">{hint}</div>
      )}
    </div>
  );
}
