import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IRun } from '../../api/models';
import { StatusBadge } from '../../jobs/components/StatusBadge';
import { ago, when } from '../../jobs/format';
import { formatBytes } from '../../format';
import {
  formatMs,
  formatThroughput,
  formatValue,
  isNumber,
  MISSING
} from '../comparison';
import { ConfusionMatrix } from './ConfusionMatrix';

/**
 * Properties of `EvaluationList`.
 */
export interface IEvaluationListProps {
  evaluations: ReadonlyArray<IRun>;
  trans: TranslationBundle;
  /** The evaluation to highlight (a lineage node was clicked). */
  highlighted: string | null;
  onOpenJob: (id: string) => void;
}

/**
 * The evaluations of a version, newest first
 * (`.jp-tz-EvaluationRow[data-run-id]`): dataset and split, the scalar
 * metrics, the speed figures with runtime and hardware, and the per-class
 * figures and confusion matrix when the task has them.
 */
export function EvaluationList(props: IEvaluationListProps): JSX.Element {
  const { evaluations, trans, highlighted, onOpenJob } = props;
  if (evaluations.length === 0) {
    return (
      <div className="jp-tz-Empty">
        {trans.__(
          'No evaluations yet. Use Evaluate to measure accuracy and speed on a dataset version.'
        )}
      </div>
    );
  }
  return (
    <ul className="jp-tz-EvaluationList">
      {evaluations.map(e => {
        const metrics = e.metrics ?? {};
        const scalars = Object.entries(metrics).filter(
          ([, v]) => typeof v !== 'object' || v === null
        );
        const speed = e.speed;
        const split = typeof e.params?.split === 'string' ? e.params.split : '';
        const perClass = metrics.per_class as
          Record<string, Record<string, unknown>> | undefined;
        const confusion = metrics.confusion as
          { labels?: string[]; matrix?: number[][] } | undefined;
        return (
          <li
            key={e.id}
            id={`tz-evaluation-${e.id}`}
            className={`jp-tz-EvaluationRow${highlighted === e.id ? ' jp-mod-highlighted' : ''}`}
            data-run-id={e.id}
            data-status={e.status}
          >
            <div className="jp-tz-EvaluationRow-head">
              <span className="jp-tz-EvaluationRow-dataset">
                {e.dataset ?? MISSING}
                {split ? ` (${split})` : ''}
              </span>
              <StatusBadge status={e.status} title={e.message ?? undefined} />
              <span title={when(e.created)}>{ago(e.created)}</span>
              <span className="jp-tz-JobHeader-spacer" />
              {e.job_id && (
                <button
                  type="button"
                  className="jp-tz-LinkButton"
                  onClick={() => onOpenJob(e.job_id!)}
                >
                  {e.job_id}
                </button>
              )}
            </div>
            {e.status === 'failed' && e.message && (
              <div className="jp-tz-RunRow-message jp-mod-error">
                {e.message}
              </div>
            )}
            {scalars.length > 0 && (
              <dl className="jp-tz-Figures jp-tz-EvaluationMetrics">
                {scalars.map(([k, v]) => (
                  <div key={k} className="jp-tz-Figure" data-key={k}>
                    <dt>{k}</dt>
                    <dd>{formatValue(v)}</dd>
                  </div>
                ))}
              </dl>
            )}
            {speed && (
              <dl className="jp-tz-Figures jp-tz-EvaluationSpeed">
                <div className="jp-tz-Figure">
                  <dt>{trans.__('runtime')}</dt>
                  <dd>
                    {[speed.runtime, speed.runtime_version]
                      .filter(Boolean)
                      .join(' ') || MISSING}
                  </dd>
                </div>
                <div className="jp-tz-Figure" data-key="latency_ms_p50">
                  <dt>{trans.__('latency p50')}</dt>
                  <dd>{formatMs(speed.latency_ms_p50)}</dd>
                </div>
                <div className="jp-tz-Figure" data-key="latency_ms_p95">
                  <dt>{trans.__('latency p95')}</dt>
                  <dd>{formatMs(speed.latency_ms_p95)}</dd>
                </div>
                <div className="jp-tz-Figure" data-key="throughput_per_s">
                  <dt>
                    {isNumber(speed.batch_size)
                      ? trans.__('throughput (batch %1)', speed.batch_size)
                      : trans.__('throughput')}
                  </dt>
                  <dd>{formatThroughput(speed.throughput_per_s)}</dd>
                </div>
                <div className="jp-tz-Figure">
                  <dt>{trans.__('peak memory')}</dt>
                  <dd>
                    {isNumber(speed.peak_memory_mb)
                      ? `${formatValue(speed.peak_memory_mb)} MB`
                      : MISSING}
                  </dd>
                </div>
                <div className="jp-tz-Figure">
                  <dt>{trans.__('model size')}</dt>
                  <dd>{formatBytes(speed.model_size_bytes) || MISSING}</dd>
                </div>
                {speed.hardware && (
                  <div className="jp-tz-Figure">
                    <dt>{trans.__('hardware')}</dt>
                    <dd>
                      {[
                        speed.hardware.cpu,
                        isNumber(speed.hardware.cores)
                          ? trans.__('%1 cores', speed.hardware.cores)
                          : '',
                        isNumber(speed.threads)
                          ? trans.__('%1 threads', speed.threads)
                          : '',
                        speed.hardware.gpu ?? ''
                      ]
                        .filter(Boolean)
                        .join(', ')}
                    </dd>
                  </div>
                )}
              </dl>
            )}
            {(perClass || confusion) && (
              <details className="jp-tz-EvaluationDetails">
                <summary>{trans.__('Per class and confusion matrix')}</summary>
                {perClass && (
                  <table className="jp-tz-PerClass">
                    <thead>
                      <tr>
                        <th>{trans.__('Class')}</th>
                        <th>{trans.__('Precision')}</th>
                        <th>{trans.__('Recall')}</th>
                        <th>{trans.__('Support')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {Object.entries(perClass).map(([label, f]) => (
                        <tr key={label}>
                          <td>{label}</td>
                          <td>{formatValue(f?.precision)}</td>
                          <td>{formatValue(f?.recall)}</td>
                          <td>{formatValue(f?.support)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
                {confusion?.labels && confusion.matrix && (
                  <ConfusionMatrix
                    labels={confusion.labels}
                    matrix={confusion.matrix}
                    trans={trans}
                  />
                )}
              </details>
            )}
          </li>
        );
      })}
    </ul>
  );
}
