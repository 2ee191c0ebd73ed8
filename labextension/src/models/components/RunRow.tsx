import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IRun, isRunFinished } from '../../api/models';
import { StatusBadge } from '../../jobs/components/StatusBadge';
import { ago, duration, when } from '../../jobs/format';
import { formatMs, formatPercent, isNumber } from '../comparison';
import { useRun } from '../hooks';

/**
 * Properties of `RunRow`.
 */
export interface IRunRowProps {
  run: IRun;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
  /** Open the view of the run's job. */
  onOpenJob: (id: string) => void;
  /** Select a version of this model (the run's source or result). */
  onSelectVersion: (version: number) => void;
  /** Called once when the run finishes while the row follows it. */
  onFinished: (run: IRun) => void;
}

/**
 * One conversion or evaluation (`.jp-tz-RunRow[data-status]`): what it does,
 * its live status (polled every 1.5 s until final), its job, the version it
 * produced or the headline figures it measured, and the failure message.
 */
export function RunRow(props: IRunRowProps): JSX.Element {
  const { settings, trans, onOpenJob, onSelectVersion } = props;
  const { run, error } = useRun(props.run, settings, props.onFinished);
  const finished = isRunFinished(run.status);
  const params = run.params ?? {};
  const what =
    run.kind === 'convert'
      ? trans.__('Convert v%1 → %2', run.version, String(params.to ?? '?'))
      : trans.__('Evaluate v%1', run.version);
  const accuracy = run.metrics?.accuracy;
  const p50 = run.speed?.latency_ms_p50;
  return (
    <li
      className="jp-tz-RunRow"
      data-run-id={run.id}
      data-kind={run.kind}
      data-status={run.status}
    >
      <div className="jp-tz-RunRow-main">
        <span className="jp-tz-RunRow-what">{what}</span>
        {run.dataset && (
          <code className="jp-tz-Path jp-tz-RunRow-dataset">{run.dataset}</code>
        )}
        <StatusBadge status={run.status} title={run.message ?? undefined} />
        {!finished && <span className="jp-tz-Spinner" aria-hidden="true" />}
        <span className="jp-tz-JobHeader-spacer" />
        {run.job_id && (
          <button
            type="button"
            className="jp-tz-LinkButton jp-tz-RunRow-job"
            title={trans.__('Open the job of this run')}
            onClick={() => onOpenJob(run.job_id!)}
          >
            {run.job_id}
          </button>
        )}
      </div>
      <div className="jp-tz-RunRow-meta">
        <span title={when(run.created)}>{ago(run.created)}</span>
        {run.finished && (
          <span>
            {trans.__('took %1', duration(run.created, run.finished))}
          </span>
        )}
        {run.kind === 'convert' &&
          run.result_version !== null &&
          run.result_version !== undefined && (
            <button
              type="button"
              className="jp-tz-LinkButton jp-tz-RunRow-result"
              onClick={() => onSelectVersion(run.result_version!)}
            >
              {trans.__('→ v%1', run.result_version)}
            </button>
          )}
        {run.kind === 'evaluate' && isNumber(accuracy) && (
          <span>{trans.__('accuracy %1', formatPercent(accuracy))}</span>
        )}
        {run.kind === 'evaluate' && isNumber(p50) && (
          <span>{trans.__('p50 %1', formatMs(p50))}</span>
        )}
      </div>
      {run.status === 'failed' && (
        <div className="jp-tz-RunRow-message jp-mod-error" role="alert">
          {run.message || trans.__('The run failed; see its job logs.')}
        </div>
      )}
      {error && (
        <div className="jp-tz-RunRow-message">
          {trans.__('Status unavailable: %1', error)}
        </div>
      )}
    </li>
  );
}
