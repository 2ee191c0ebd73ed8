import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

/**
 * Properties of `LabelerPlaceholder`.
 */
export interface ILabelerPlaceholderProps {
  /** Whether the draft's first page has arrived. */
  loaded: boolean;
  /** Why loading failed, if it did. */
  error: string | null;
  trans: TranslationBundle;
}

/**
 * What a labeling view shows before it has a file: loading, the error, or an
 * empty draft.
 */
export function LabelerPlaceholder(
  props: ILabelerPlaceholderProps
): JSX.Element {
  const { loaded, error, trans } = props;
  if (!loaded) {
    return <div className="jp-tz-Empty">{trans.__('Loading…')}</div>;
  }
  return error ? (
    <div className="jp-tz-Unavailable" role="alert">
      {error}
    </div>
  ) : (
    <div className="jp-tz-Empty">
      {trans.__('The draft has no files. Add some from the workspace.')}
    </div>
  );
}
