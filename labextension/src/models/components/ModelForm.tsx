import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

/**
 * What the Convert, Evaluate and Register forms take, besides their own.
 */
export interface IDraftFormProps<D> {
  initial: D;
  /** The problem of the last attempt, if any. */
  error: string | null;
  trans: TranslationBundle;
  onChange: (value: D) => void;
}

/**
 * Properties of `ModelForm`.
 */
export interface IModelFormProps {
  /** The form's own class, next to `jp-tz-ModelForm`. */
  className: string;
  /** What the dialog acts on, shown first. */
  source: string;
  /** The problem of the last attempt, if any. */
  error: string | null;
  /** The fields. */
  children: React.ReactNode;
}

/**
 * The frame of the Convert, Evaluate and Register dialogs: what they act on,
 * the problem of the last attempt, then the fields.
 */
export function ModelForm(props: IModelFormProps): JSX.Element {
  const { error } = props;
  return (
    <div className={`jp-tz-ModelForm ${props.className}`}>
      <p className="jp-tz-ModelForm-source">{props.source}</p>
      {error && (
        <div className="jp-tz-Field-error" role="alert">
          {error}
        </div>
      )}
      {props.children}
    </div>
  );
}
