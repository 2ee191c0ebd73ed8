import * as React from 'react';

import { percent } from '../format';

/**
 * Properties of `ProgressBar`.
 */
export interface IProgressBarProps {
  /** Done, in [0, 1]. */
  value: number;
  /** The accessible name. */
  label: string;
  /** `failed` and `done` change the colour. */
  state?: string;
}

/**
 * A thin horizontal progress bar (`role=progressbar`, value in percent).
 */
export function ProgressBar(props: IProgressBarProps): JSX.Element {
  const value = Math.max(0, Math.min(1, props.value || 0));
  return (
    <div
      className="jp-tz-ProgressBar"
      role="progressbar"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.floor(value * 100)}
      aria-valuetext={percent(value)}
      data-state={props.state}
    >
      <div
        className="jp-tz-ProgressBar-fill"
        style={{ width: `${value * 100}%` }}
      />
    </div>
  );
}
