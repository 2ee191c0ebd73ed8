import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IJob } from '../../api/jobs';
import { Section } from '../../components/Section';
import { useBusy } from '../../hooks';
import { useSignal } from '../hooks';
import { JobModel } from '../model';
import { EventsTable } from './EventsTable';
import { JobHeader } from './JobHeader';
import { LogViewer } from './LogViewer';
import { MetricsChart } from './MetricsChart';

/**
 * Properties of `JobDetail`.
 */
export interface IJobDetailProps {
  model: JobModel;
  trans: TranslationBundle;
  /** Open the view of a job (a clone, or the job this one was cloned from). */
  onOpen: (id: string) => void;
  /** Called when an error should be notified to the user. */
  onError: (message: string) => void;
  /** Called after a successful clone with the new job. */
  onCloned: (job: IJob) => void;
}

/**
 * The body of a job view: header with actions, logs, metrics and events.
 */
export function JobDetail(props: IJobDetailProps): JSX.Element {
  const { model, trans, onOpen, onError, onCloned } = props;
  useSignal(model.changed);
  const [busy, run] = useBusy(onError);
  const job = model.job;

  const onCancel = () =>
    run(async () => {
      await model.cancel();
    });
  const onClone = () =>
    run(async () => {
      onCloned(await model.clone());
    });

  return (
    <div className="jp-tz-JobDetail">
      {job ? (
        <JobHeader
          job={job}
          trans={trans}
          busy={busy}
          onCancel={onCancel}
          onClone={onClone}
          onOpen={onOpen}
        />
      ) : (
        <div className="jp-tz-JobHeader">
          <h2 className="jp-tz-JobHeader-name">{model.id}</h2>
          <div className="jp-tz-Empty">
            {model.error ? model.error : trans.__('Loading…')}
          </div>
        </div>
      )}
      {job && model.error && (
        <div className="jp-tz-Unavailable" role="alert">
          {trans.__('Status unavailable: %1', model.error)}
        </div>
      )}
      <Section className="jp-tz-Section-logs" title={trans.__('Logs')}>
        <LogViewer
          trans={trans}
          logs={model.logs}
          version={model.logsVersion}
          ranks={model.ranks}
          dropped={model.droppedLines}
          state={model.logsState}
        />
      </Section>
      <Section title={trans.__('Metrics')}>
        <MetricsChart
          trans={trans}
          metrics={model.metrics}
          version={model.metricsVersion}
          state={model.metricsState}
        />
      </Section>
      <Section title={trans.__('Events')}>
        <EventsTable trans={trans} events={model.events} />
      </Section>
    </div>
  );
}
