import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { useSignal, useTicker } from '../hooks';
import { JobsModel } from '../model';
import { JobRow } from './JobRow';

/**
 * Properties of `JobList`.
 */
export interface IJobListProps {
  model: JobsModel;
  trans: TranslationBundle;
  /** Called with a job id to open its view. */
  onOpen: (id: string) => void;
}

/**
 * The "My jobs" section: the caller's jobs, newest first.
 */
export function JobList(props: IJobListProps): JSX.Element {
  const { model, trans, onOpen } = props;
  useSignal(model.changed);
  useTicker(30_000);
  if (!model.loaded) {
    return <div className="jp-tz-Empty">{trans.__('Loading…')}</div>;
  }
  return (
    <div className="jp-tz-JobList">
      {model.jobsError && (
        <div className="jp-tz-Unavailable" role="alert">
          {trans.__('Jobs unavailable: %1', model.jobsError)}
        </div>
      )}
      {model.jobs.length === 0 && !model.jobsError ? (
        <div className="jp-tz-Empty">
          {trans.__('No jobs yet. Use "New job" to submit one.')}
        </div>
      ) : (
        <ul className="jp-tz-JobList-items">
          {model.jobs.map(job => (
            <JobRow key={job.id} job={job} trans={trans} onOpen={onOpen} />
          ))}
        </ul>
      )}
    </div>
  );
}
