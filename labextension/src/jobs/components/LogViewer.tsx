import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ILogEntry, StreamState } from '../model';

/**
 * Properties of `LogViewer`.
 */
export interface ILogViewerProps {
  trans: TranslationBundle;
  /** The log lines, all ranks. */
  logs: ReadonlyArray<ILogEntry>;
  /** Bumped whenever `logs` changes (the array is updated in place). */
  version: number;
  /** The ranks to offer in the filter. */
  ranks: number[];
  /** Lines dropped from the start to bound memory. */
  dropped: number;
  state: StreamState;
}

/**
 * The log view (`.jp-tz-Logs`, one
 * `.jp-tz-LogLine[data-rank]` per line). Scrolling up pauses autoscroll;
 * scrolling back to the bottom resumes it. The text of a line is exactly the
 * logged line: the `[rank]` prefix of the "All" view is drawn by CSS.
 */
function LogViewerComponent(props: ILogViewerProps): JSX.Element {
  const { trans, logs, ranks, dropped, state } = props;
  const [rank, setRank] = React.useState<string>('all');
  const [follow, setFollow] = React.useState(true);
  const area = React.useRef<HTMLDivElement>(null);

  const shown =
    rank === 'all' ? logs : logs.filter(entry => String(entry.rank) === rank);

  React.useLayoutEffect(() => {
    if (follow && area.current) {
      area.current.scrollTop = area.current.scrollHeight;
    }
  });

  const onScroll = () => {
    const node = area.current;
    if (!node) {
      return;
    }
    const atBottom =
      node.scrollHeight - node.scrollTop - node.clientHeight < 24;
    if (atBottom !== follow) {
      setFollow(atBottom);
    }
  };

  const status: Record<StreamState, string> = {
    connecting: trans.__('connecting…'),
    streaming: trans.__('live'),
    ended: trans.__('complete'),
    failed: trans.__('disconnected, retrying…')
  };
  const multiRank = ranks.length > 1;

  return (
    <div className="jp-tz-LogViewer">
      <div className="jp-tz-SectionToolbar">
        <label className="jp-tz-Inline">
          {trans.__('Rank')}
          <select
            className="jp-mod-styled jp-tz-RankFilter"
            name="rank"
            value={rank}
            onChange={event => setRank(event.target.value)}
          >
            <option value="all">{trans.__('All')}</option>
            {ranks.map(r => (
              <option key={r} value={String(r)}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <label className="jp-tz-Inline">
          <input
            type="checkbox"
            name="autoscroll"
            className="jp-tz-Autoscroll"
            checked={follow}
            onChange={event => setFollow(event.target.checked)}
          />
          {trans.__('Autoscroll')}
        </label>
        <span className={`jp-tz-StreamState jp-tz-StreamState-${state}`}>
          {status[state]}
        </span>
      </div>
      <div
        className={`jp-tz-Logs${multiRank && rank === 'all' ? ' jp-mod-multirank' : ''}`}
        ref={area}
        onScroll={onScroll}
        role="log"
        aria-live="off"
        tabIndex={0}
      >
        {dropped > 0 && (
          <div className="jp-tz-LogDropped">
            {trans._n(
              '%1 earlier line not shown',
              '%1 earlier lines not shown',
              dropped
            )}
          </div>
        )}
        {shown.length === 0 && (
          <div className="jp-tz-Empty">
            {state === 'ended'
              ? trans.__('No output.')
              : trans.__('No output yet.')}
          </div>
        )}
        {shown.map(entry => (
          <div key={entry.n} className="jp-tz-LogLine" data-rank={entry.rank}>
            {entry.text}
          </div>
        ))}
      </div>
    </div>
  );
}

/**
 * Per-rank logs with a rank filter and autoscroll (`.jp-tz-Logs`), re-rendered
 * only when the lines, ranks or stream state change.
 */
export const LogViewer = React.memo(
  LogViewerComponent,
  (a, b) =>
    a.version === b.version &&
    a.dropped === b.dropped &&
    a.state === b.state &&
    a.ranks.join() === b.ranks.join() &&
    a.trans === b.trans
);
