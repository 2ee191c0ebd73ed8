import * as React from 'react';

/**
 * Properties of `UsageBar`.
 */
export interface IUsageBarProps {
  label: string;
  used: number;
  capacity: number;
}

/**
 * A labelled "used / capacity" bar.
 */
export function UsageBar(props: IUsageBarProps): JSX.Element {
  const { label, used, capacity } = props;
  const ratio = capacity > 0 ? Math.min(1, used / capacity) : 0;
  return (
    <div className="jp-tz-UsageBar">
      <div className="jp-tz-UsageBar-label">
        <span>{label}</span>
        <span>
          {used} / {capacity}
        </span>
      </div>
      <div
        className="jp-tz-UsageBar-track"
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={capacity}
        aria-valuenow={used}
      >
        <div
          className="jp-tz-UsageBar-fill"
          style={{ width: `${Math.round(ratio * 100)}%` }}
        />
      </div>
    </div>
  );
}
