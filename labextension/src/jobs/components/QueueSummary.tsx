import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { useSignal, useTicker } from '../hooks';
import { JobsModel } from '../model';
import { JobRow } from './JobRow';
import { UsageBar } from './UsageBar';

/**
 * Properties of `QueueSummary`.
 */
export interface IQueueSummaryProps {
  model: JobsModel;
  trans: TranslationBundle;
  /** Called with a job id to open its view. */
  onOpen: (id: string) => void;
}

/**
 * The "Queue" section: capacity and usage, counts, and the queued and running
 * jobs the caller may see (rows are `.jp-tz-QueueRow`).
 */
export function QueueSummary(props: IQueueSummaryProps): JSX.Element {
  const { model, trans, onOpen } = props;
  useSignal(model.changed);
  useTicker(30_000);
  const queue = model.queue;
  if (!queue) {
    return (
      <div className="jp-tz-Empty">
        {model.queueError
          ? trans.__('Queue unavailable: %1', model.queueError)
          : trans.__('Loading…')}
      </div>
    );
  }
  const total = queue.total ?? queue.capacity;
  const owners = new Set(queue.items.map(job => job.owner));
  // Running jobs first, then the queue in order.
  const items = [...queue.items].sort(
    (a, b) =>
      Number(a.status !== 'running') - Number(b.status !== 'running') ||
      (a.queue_position ?? 0) - (b.queue_position ?? 0)
  );
  return (
    <div className="jp-tz-QueueSummary">
      {model.queueError && (
        <div className="jp-tz-Unavailable" role="alert">
          {trans.__('Queue unavailable: %1', model.queueError)}
        </div>
      )}
      <div className="jp-tz-QueueSummary-usage">
        {total && (
          <>
            <UsageBar
              label={trans.__('GPUs')}
              used={queue.used?.gpus ?? 0}
              capacity={total.gpus}
            />
            <UsageBar
              label={trans.__('CPUs')}
              used={queue.used?.cpus ?? 0}
              capacity={total.cpus}
            />
          </>
        )}
        <div className="jp-tz-QueueSummary-counts">
          {trans.__('%1 running · %2 queued', queue.running, queue.queued)}
        </div>
      </div>
      {items.length === 0 ? (
        <div className="jp-tz-Empty">
          {trans.__('Nothing queued or running.')}
        </div>
      ) : (
        <ul className="jp-tz-JobList-items">
          {items.map(job => (
            <JobRow
              key={job.id}
              job={job}
              trans={trans}
              onOpen={onOpen}
              className="jp-tz-QueueRow"
              showOwner={owners.size > 1}
            />
          ))}
        </ul>
      )}
    </div>
  );
}
