import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IJob, isFinished } from '../../api/jobs';
import { Fact, Facts } from '../../components/Facts';
import { RegisterModelButton } from '../../models/components/RegisterModelButton';
import { useTicker } from '../hooks';
import { duration, gpuLabel, gpusPerNode, shapeLabel, when } from '../format';
import { StatusBadge } from './StatusBadge';

/**
 * Properties of `JobHeader`.
 */
export interface IJobHeaderProps {
  job: IJob;
  trans: TranslationBundle;
  /** Whether a cancel or clone request is in flight. */
  busy: boolean;
  onCancel: () => void;
  onClone: () => void;
  /** Open another job (the one this job was cloned from). */
  onOpen: (id: string) => void;
}

/**
 * The header of a job view: name, id, status, reason and message, shape and
 * resources, times, and the Cancel and Clone buttons.
 */
export function JobHeader(props: IJobHeaderProps): JSX.Element {
  const { job, trans, busy, onCancel, onClone, onOpen } = props;
  const finished = isFinished(job.status);
  // Keeps "Running for" current.
  useTicker(job.started && !finished ? 1000 : null);
  const reason = [job.reason, job.message].filter(Boolean).join(': ');
  const facts: Fact[] = [
    [trans.__('Framework'), job.framework],
    [trans.__('Nodes × processes'), shapeLabel(job)],
    [
      trans.__('GPUs'),
      gpusPerNode(job) > 0
        ? `${gpuLabel(job, trans)} (${trans.__('%1 per node', gpusPerNode(job))})`
        : gpuLabel(job, trans)
    ],
    [trans.__('Owner'), job.owner],
    [trans.__('Attempt'), String(job.attempt)],
    [trans.__('Created'), when(job.created)]
  ];
  if (job.status === 'queued' && job.queue_position !== null) {
    facts.push([trans.__('Queue position'), String(job.queue_position)]);
  }
  if (job.started) {
    facts.push([
      finished ? trans.__('Ran for') : trans.__('Running for'),
      duration(job.started, job.finished)
    ]);
  }
  if (job.finished) {
    facts.push([trans.__('Finished'), when(job.finished)]);
  }
  if (job.exit_code !== null && job.exit_code !== undefined) {
    facts.push([trans.__('Exit code'), String(job.exit_code)]);
  }
  if (job.output_dir) {
    facts.push([
      trans.__('Output'),
      <code className="jp-tz-Path">{job.output_dir}</code>
    ]);
  }
  const used = job.lineage?.datasets ?? [];
  if (used.length > 0) {
    facts.push([
      trans.__('Datasets'),
      <span className="jp-tz-JobLineage">
        {used.map(d => (
          <code
            key={d.dataset_id}
            className="jp-tz-Path"
            title={trans.__('manifest sha256 %1', d.manifest_sha256)}
          >
            {`${d.owner}/${d.name}:${d.version}`}
          </code>
        ))}
      </span>
    ]);
  }
  if (job.cloned_from) {
    const source = job.cloned_from;
    facts.push([
      trans.__('Cloned from'),
      <button
        type="button"
        className="jp-tz-LinkButton"
        onClick={() => onOpen(source)}
      >
        {source}
      </button>
    ]);
  }
  return (
    <div className="jp-tz-JobHeader">
      <div className="jp-tz-JobHeader-title">
        <h2 className="jp-tz-JobHeader-name">{job.name}</h2>
        <StatusBadge
          status={job.status}
          className="jp-tz-JobStatus"
          title={reason || undefined}
        />
        <code className="jp-tz-JobHeader-id">{job.id}</code>
        <span className="jp-tz-JobHeader-spacer" />
        <button
          type="button"
          className="jp-tz-Button jp-mod-warn jp-tz-CancelButton"
          onClick={onCancel}
          disabled={finished || busy}
          title={
            finished
              ? trans.__('The job has finished')
              : trans.__('Stop all ranks of this job')
          }
        >
          {trans.__('Cancel')}
        </button>
        <button
          type="button"
          className="jp-tz-Button jp-tz-CloneButton"
          onClick={onClone}
          disabled={busy}
          title={trans.__('Submit a copy of this job with the same snapshot')}
        >
          {trans.__('Clone')}
        </button>
        <RegisterModelButton job={job} trans={trans} />
      </div>
      {reason && (
        <div
          className={`jp-tz-JobReason${job.status === 'failed' ? ' jp-mod-error' : ''}`}
        >
          {reason}
        </div>
      )}
      <Facts facts={facts} />
    </div>
  );
}
