import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IMetric } from '../../api/jobs';
import { groupSeries } from '../chart';
import { StreamState } from '../model';
import { LineChart } from './LineChart';

/**
 * Properties of `MetricsChart`.
 */
export interface IMetricsChartProps {
  trans: TranslationBundle;
  metrics: ReadonlyArray<IMetric>;
  /** Bumped on every new record (the grouping is memoized on it). */
  version: number;
  state: StreamState;
}

/**
 * Live metrics (`.jp-tz-MetricsChart`): one line chart per metric key against
 * the step, one `svg polyline` per rank.
 */
function MetricsChartComponent(props: IMetricsChartProps): JSX.Element {
  const { trans, metrics, version, state } = props;
  const grouped = React.useMemo(() => groupSeries(metrics), [metrics, version]);
  return (
    <div className="jp-tz-MetricsChart" data-state={state}>
      {grouped.size === 0 ? (
        <div className="jp-tz-Empty">
          {trans.__(
            'No metrics yet. Record them from the script with training_zoo.log_metrics(step=…, loss=…).'
          )}
        </div>
      ) : (
        [...grouped.entries()].map(([metric, series]) => (
          <LineChart
            key={metric}
            metric={metric}
            series={series}
            xLabel={trans.__('step')}
          />
        ))
      )}
    </div>
  );
}

/**
 * Live metrics, re-rendered only when a record arrives or the stream state
 * changes.
 */
export const MetricsChart = React.memo(
  MetricsChartComponent,
  (a, b) =>
    a.version === b.version && a.state === b.state && a.trans === b.trans
);
