import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { buttonProps } from '../../a11y';
import { IJob } from '../../api/jobs';
import { ago, gpuLabel, gpusPerNode, shapeLabel, when } from '../format';
import { StatusBadge } from './StatusBadge';

/**
 * Properties of `JobRow`.
 */
export interface IJobRowProps {
  job: IJob;
  trans: TranslationBundle;
  /** Called with the job id when the row is activated. */
  onOpen: (id: string) => void;
  /** The row class: `jp-tz-JobRow` (My jobs) or `jp-tz-QueueRow` (Queue). */
  className?: string;
  /** Show the owner (the queue of an admin lists everyone's jobs). */
  showOwner?: boolean;
}

/**
 * One job in a list: name, status badge, queue position, nodes × procs, GPUs
 * and age. Click or Enter opens the job view.
 */
export function JobRow(props: IJobRowProps): JSX.Element {
  const { job, trans, onOpen, showOwner } = props;
  const className = props.className ?? 'jp-tz-JobRow';
  const open = () => onOpen(job.id);
  const reason = [job.reason, job.message].filter(Boolean).join(': ');
  return (
    <li
      className={className}
      data-job-id={job.id}
      data-status={job.status}
      {...buttonProps(open)}
      title={trans.__('Open job %1', job.id)}
    >
      <div className="jp-tz-JobRow-main">
        <span className="jp-tz-JobRow-name">{job.name}</span>
        <StatusBadge status={job.status} title={reason || undefined} />
      </div>
      <div className="jp-tz-JobRow-meta">
        {job.status === 'queued' && job.queue_position !== null && (
          <span
            className="jp-tz-JobRow-position"
            title={trans.__('Position in the queue')}
          >
            {trans.__('#%1 in queue', job.queue_position)}
          </span>
        )}
        {showOwner && <span className="jp-tz-JobRow-owner">{job.owner}</span>}
        <span title={trans.__('nodes × processes per node')}>
          {shapeLabel(job)}
        </span>
        <span title={trans.__('%1 GPUs per node', gpusPerNode(job))}>
          {gpuLabel(job, trans)}
        </span>
        <span className="jp-tz-JobRow-age" title={when(job.created)}>
          {ago(job.created)}
        </span>
      </div>
    </li>
  );
}
