import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ProgressBar } from '../../components/ProgressBar';

/**
 * Properties of `LabelingProgress`.
 */
export interface ILabelingProgressProps {
  labeled: number;
  total: number;
  index: number;
  trans: TranslationBundle;
}

/**
 * "12 / 40 labeled", the position, and a bar.
 */
export function LabelingProgress(props: ILabelingProgressProps): JSX.Element {
  const { labeled, total, index, trans } = props;
  return (
    <div className="jp-tz-LabelingProgress">
      <span className="jp-tz-LabelingProgress-count">
        {trans.__('%1 / %2 labeled', labeled, total)}
      </span>
      <span className="jp-tz-LabelingProgress-position">
        {trans.__('file %1 of %2', index + 1, total)}
      </span>
      <ProgressBar
        value={total > 0 ? labeled / total : 0}
        label={trans.__('Labeled')}
      />
    </div>
  );
}
