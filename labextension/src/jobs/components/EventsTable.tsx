import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IJobEvent } from '../../api/jobs';
import { when } from '../format';

/**
 * Properties of `EventsTable`.
 */
export interface IEventsTableProps {
  trans: TranslationBundle;
  events: ReadonlyArray<IJobEvent>;
}

/**
 * The lifecycle events of a job (`table.jp-tz-Events`), oldest first;
 * warnings are highlighted.
 */
export function EventsTable(props: IEventsTableProps): JSX.Element {
  const { trans, events } = props;
  return (
    <table className="jp-tz-Events">
      <thead>
        <tr>
          <th>{trans.__('Time')}</th>
          <th>{trans.__('Type')}</th>
          <th>{trans.__('Reason')}</th>
          <th>{trans.__('Message')}</th>
          <th>{trans.__('Attempt')}</th>
        </tr>
      </thead>
      <tbody>
        {events.length === 0 ? (
          <tr>
            <td colSpan={5} className="jp-tz-Empty">
              {trans.__('No events yet.')}
            </td>
          </tr>
        ) : (
          events.map((event, i) => (
            <tr
              key={`${event.time}-${i}`}
              className={`jp-tz-Event${event.type === 'Warning' ? ' jp-mod-warning' : ''}`}
              data-reason={event.reason}
            >
              <td title={event.time}>{when(event.time)}</td>
              <td>{event.type}</td>
              <td>{event.reason}</td>
              <td>{event.message}</td>
              <td>{event.attempt}</td>
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}
