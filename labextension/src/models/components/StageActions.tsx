import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { Stage } from '../../api/models';
import { STAGE_BUTTON_LABELS, stageTargets } from '../stages';

/**
 * Properties of `StageActions`.
 */
export interface IStageActionsProps {
  /** The selected version's stage. */
  stage: string;
  /** Whether a request is in flight. */
  busy: boolean;
  trans: TranslationBundle;
  onMove: (to: Stage) => void;
}

/**
 * The stage buttons of a version: Move to staging, Promote to production,
 * Archive (those that move it somewhere else).
 */
export function StageActions(props: IStageActionsProps): JSX.Element {
  const { stage, busy, trans, onMove } = props;
  return (
    <div
      className="jp-tz-StageActions"
      role="group"
      aria-label={trans.__('Stage')}
    >
      {stageTargets(stage).map(to => (
        <button
          key={to}
          type="button"
          className={`jp-tz-Button jp-tz-StageButton jp-tz-StageButton-${to}${to === 'production' ? ' jp-mod-accept' : ''}`}
          data-stage={to}
          disabled={busy}
          onClick={() => onMove(to)}
        >
          {trans.__(STAGE_BUTTON_LABELS[to])}
        </button>
      ))}
    </div>
  );
}
