import * as React from 'react';

/**
 * Properties of `Unavailable`.
 */
export interface IUnavailableProps {
  /** The problem; nothing is shown without one. */
  error: string | null | undefined;
}

/**
 * The notice of a failed load (`.jp-tz-Unavailable[role=alert]`).
 */
export function Unavailable(props: IUnavailableProps): JSX.Element | null {
  return props.error ? (
    <div className="jp-tz-Unavailable" role="alert">
      {props.error}
    </div>
  ) : null;
}
