import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IStageMove } from '../../api/models';
import { ago, when } from '../../jobs/format';
import { StageBadge } from './StageBadge';

/**
 * Properties of `StageHistory`.
 */
export interface IStageHistoryProps {
  history: ReadonlyArray<IStageMove>;
  trans: TranslationBundle;
}

/**
 * Every stage move of a model, newest first: version, from → to, who, when
 * and the comment.
 */
export function StageHistory(props: IStageHistoryProps): JSX.Element {
  const { trans } = props;
  const moves = [...props.history].sort((a, b) =>
    (b.time ?? '').localeCompare(a.time ?? '')
  );
  if (moves.length === 0) {
    return <div className="jp-tz-Empty">{trans.__('No stage moves yet.')}</div>;
  }
  return (
    <ol className="jp-tz-StageHistory">
      {moves.map((m, i) => (
        <li
          key={`${m.time}-${m.version}-${i}`}
          className="jp-tz-StageMove"
          data-version={m.version}
          data-to={m.to}
        >
          <span className="jp-tz-StageMove-version">{`v${m.version}`}</span>
          <StageBadge stage={m.from} label={m.from} />
          <span aria-hidden="true">→</span>
          <StageBadge stage={m.to} label={m.to} />
          <span className="jp-tz-StageMove-by">{m.by}</span>
          <span className="jp-tz-StageMove-time" title={when(m.time)}>
            {ago(m.time)}
          </span>
          {m.comment && (
            <span className="jp-tz-StageMove-comment">{m.comment}</span>
          )}
        </li>
      ))}
    </ol>
  );
}
