import * as React from 'react';

import { IBar } from '../comparison';
import { ellipsize } from '../lineage';

/**
 * Properties of `CompareChart`.
 */
export interface ICompareChartProps {
  title: string;
  bars: ReadonlyArray<IBar>;
  /** The value label of a bar. */
  format: (value: number) => string;
  /** The chart's key (`data-metric`). */
  metric: string;
  /** The baseline's label (its bar is drawn in the accent colour). */
  baseline: string | null;
  /** Shown when no version has the figure. */
  empty: string;
}

const WIDTH = 360;
const LABEL = 120;
const VALUE = 72;
const BAR = 16;
const GAP = 8;

/**
 * A horizontal SVG bar chart of one figure across the compared versions
 * (`.jp-tz-CompareChart[data-metric]`), bars scaled to the largest value.
 */
export function CompareChart(props: ICompareChartProps): JSX.Element {
  const { title, bars, format, metric, baseline, empty } = props;
  const max = Math.max(0, ...bars.map(b => b.value));
  const track = WIDTH - LABEL - VALUE;
  const height = Math.max(1, bars.length) * (BAR + GAP) + GAP;
  return (
    <figure className="jp-tz-CompareChart" data-metric={metric}>
      <figcaption className="jp-tz-CompareChart-title">{title}</figcaption>
      {bars.length === 0 ? (
        <div className="jp-tz-Empty">{empty}</div>
      ) : (
        <svg
          className="jp-tz-CompareChart-svg"
          width={WIDTH}
          height={height}
          viewBox={`0 0 ${WIDTH} ${height}`}
          role="img"
          aria-label={title}
        >
          {bars.map((b, i) => {
            const y = GAP + i * (BAR + GAP);
            const w = max > 0 ? Math.max(1, (b.value / max) * track) : 1;
            return (
              <g
                key={`${b.label}-${i}`}
                className={`jp-tz-CompareChart-bar${b.label === baseline ? ' jp-mod-baseline' : ''}`}
                data-ref={b.label}
                data-value={b.value}
              >
                <title>{`${b.label}: ${format(b.value)}`}</title>
                <text
                  className="jp-tz-Chart-label"
                  x={LABEL - 6}
                  y={y + BAR / 2}
                  textAnchor="end"
                  dominantBaseline="central"
                >
                  {ellipsize(b.label, 18)}
                </text>
                <rect
                  className="jp-tz-CompareChart-rect"
                  x={LABEL}
                  y={y}
                  width={w}
                  height={BAR}
                  rx={2}
                />
                <text
                  className="jp-tz-Chart-label"
                  x={LABEL + w + 4}
                  y={y + BAR / 2}
                  dominantBaseline="central"
                >
                  {format(b.value)}
                </text>
              </g>
            );
          })}
        </svg>
      )}
    </figure>
  );
}
