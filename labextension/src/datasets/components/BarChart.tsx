import * as React from 'react';

/**
 * Properties of `BarChart`.
 */
export interface IBarChartProps {
  title: string;
  /** Label → count, drawn in the given order. */
  data: ReadonlyArray<[string, number]>;
  className?: string;
}

/**
 * Horizontal CSS bars, one per label, scaled to the largest count.
 */
export function BarChart(props: IBarChartProps): JSX.Element {
  const max = Math.max(1, ...props.data.map(([, n]) => n));
  return (
    <figure className={`jp-tz-BarChart ${props.className ?? ''}`}>
      <figcaption className="jp-tz-BarChart-title">{props.title}</figcaption>
      {props.data.map(([label, count]) => (
        <div className="jp-tz-BarChart-row" key={label} data-label={label}>
          <span className="jp-tz-BarChart-label" title={label}>
            {label}
          </span>
          <span className="jp-tz-BarChart-track">
            <span
              className="jp-tz-BarChart-bar"
              style={{ width: `${(count / max) * 100}%` }}
            />
          </span>
          <span className="jp-tz-BarChart-count">{count}</span>
        </div>
      ))}
    </figure>
  );
}
