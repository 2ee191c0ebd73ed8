import * as React from 'react';

import { downsample, extent, formatNumber, ISeries, niceTicks } from '../chart';

/**
 * Properties of `LineChart`.
 */
export interface ILineChartProps {
  /** The metric key: the chart title and the y axis label. */
  metric: string;
  /** One series per rank that logged the metric. */
  series: ISeries[];
  /** The x axis label. */
  xLabel: string;
}

const WIDTH = 440;
const HEIGHT = 200;
const MARGIN = { left: 56, right: 14, top: 12, bottom: 38 };
const MAX_POINTS = 1000;

/**
 * An SVG line chart of one metric against the step, one `polyline` per rank,
 * with ticks and axis labels. Colours come from the theme (CSS classes).
 */
export function LineChart(props: ILineChartProps): JSX.Element {
  const { metric, series, xLabel } = props;
  const points = series.flatMap(s => s.points);
  const xTicks = niceTicks(...extent(points.map(p => p.step)), 5);
  const yTicks = niceTicks(...extent(points.map(p => p.value)), 4);
  const [x0, x1] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (v: number) => MARGIN.left + ((v - x0) / (x1 - x0 || 1)) * plotW;
  const sy = (v: number) =>
    MARGIN.top + plotH - ((v - y0) / (y1 - y0 || 1)) * plotH;
  const fmt = (v: number) => v.toFixed(1);

  const latest = series.map(s => ({
    rank: s.rank,
    point: s.points[s.points.length - 1]
  }));

  return (
    <figure className="jp-tz-LineChart" data-metric={metric}>
      <figcaption className="jp-tz-LineChart-title">
        <span className="jp-tz-LineChart-metric">{metric}</span>
        {latest.map(({ rank, point }, i) => (
          <span
            key={rank}
            className={`jp-tz-LineChart-latest jp-tz-Chart-color-${i % 6}`}
            title={`rank ${rank}, step ${point.step}`}
          >
            {series.length > 1 ? `[${rank}] ` : ''}
            {formatNumber(point.value)}
          </span>
        ))}
      </figcaption>
      <svg
        className="jp-tz-LineChart-svg"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`${metric} / ${xLabel}`}
      >
        <g className="jp-tz-Chart-grid">
          {yTicks.map(t => (
            <line
              key={`y${t}`}
              x1={MARGIN.left}
              x2={WIDTH - MARGIN.right}
              y1={fmt(sy(t))}
              y2={fmt(sy(t))}
            />
          ))}
        </g>
        <g className="jp-tz-Chart-axis">
          <line
            x1={MARGIN.left}
            x2={MARGIN.left}
            y1={MARGIN.top}
            y2={MARGIN.top + plotH}
          />
          <line
            x1={MARGIN.left}
            x2={WIDTH - MARGIN.right}
            y1={MARGIN.top + plotH}
            y2={MARGIN.top + plotH}
          />
        </g>
        <g className="jp-tz-Chart-ticks">
          {yTicks.map(t => (
            <text
              key={`y${t}`}
              x={MARGIN.left - 6}
              y={fmt(sy(t))}
              textAnchor="end"
              dominantBaseline="middle"
            >
              {formatNumber(t)}
            </text>
          ))}
          {xTicks.map(t => (
            <text
              key={`x${t}`}
              x={fmt(sx(t))}
              y={MARGIN.top + plotH + 14}
              textAnchor="middle"
            >
              {formatNumber(t)}
            </text>
          ))}
        </g>
        <text
          className="jp-tz-Chart-label"
          x={MARGIN.left + plotW / 2}
          y={HEIGHT - 4}
          textAnchor="middle"
        >
          {xLabel}
        </text>
        <text
          className="jp-tz-Chart-label"
          transform={`translate(12 ${MARGIN.top + plotH / 2}) rotate(-90)`}
          textAnchor="middle"
        >
          {metric}
        </text>
        {series.map((s, i) => {
          const kept = downsample(s.points, MAX_POINTS);
          return (
            <g key={s.rank} className={`jp-tz-Chart-color-${i % 6}`}>
              <polyline
                className="jp-tz-Chart-series"
                data-rank={s.rank}
                fill="none"
                points={kept
                  .map(p => `${fmt(sx(p.step))},${fmt(sy(p.value))}`)
                  .join(' ')}
              >
                <title>{`${metric} (rank ${s.rank})`}</title>
              </polyline>
              {kept.length === 1 && (
                <circle
                  className="jp-tz-Chart-point"
                  cx={fmt(sx(kept[0].step))}
                  cy={fmt(sy(kept[0].value))}
                  r={3}
                />
              )}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
