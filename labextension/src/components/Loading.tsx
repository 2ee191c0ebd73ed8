import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { Unavailable } from './Unavailable';

/**
 * Properties of `Loading`.
 */
export interface ILoadingProps {
  /** Why loading failed, if it did. */
  error: string | null;
  trans: TranslationBundle;
}

/**
 * What a view shows until its data arrives: "Loading…", or the problem that
 * stopped it.
 */
export function Loading(props: ILoadingProps): JSX.Element {
  return props.error ? (
    <Unavailable error={props.error} />
  ) : (
    <div className="jp-tz-Empty">{props.trans.__('Loading…')}</div>
  );
}
