import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { fileThumbnailURL } from '../../api/datasets';
import { errorMessage } from '../../api/request';
import { useSignal } from '../../jobs/hooks';
import { keyAction, pressOf } from '../keys';
import { LabelingModel } from '../labeling';
import { LabelButtons } from './LabelButtons';
import { LabelerPlaceholder } from './LabelerPlaceholder';
import { LabelingProgress } from './LabelingProgress';

/**
 * Properties of `ClassificationLabeler`.
 */
export interface IClassificationLabelerProps {
  model: LabelingModel;
  labels: ReadonlyArray<string>;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
  onError: (message: string) => void;
}

/**
 * One image at a time, one label each: keys 1–9 pick a label (saved at once,
 * then on to the next unlabeled image), 0 clears, n/→ next unlabeled, p/←
 * previous.
 */
export function ClassificationLabeler(
  props: IClassificationLabelerProps
): JSX.Element {
  const { model, labels, settings, trans, onError } = props;
  useSignal(model.changed);
  const root = React.useRef<HTMLDivElement>(null);
  const queue = React.useRef<Promise<unknown>>(Promise.resolve());
  React.useEffect(() => root.current?.focus(), [model.loaded]);
  const file = model.current;

  const setLabel = (label: string | null) => {
    if (!file) {
      return;
    }
    const annotations = {
      labels: label ? [label] : [],
      boxes: file.annotations?.boxes ?? []
    };
    const key = file.key;
    queue.current = queue.current
      .then(() => model.save(key, annotations))
      .catch(e => onError(errorMessage(e)));
    // Once saved, on to the next unlabeled file (a conflict stays here).
    if (label) {
      void queue.current.then(() => model.nextUnlabeled());
    }
  };

  const onKeyDown = (event: React.KeyboardEvent) => {
    const action = keyAction(pressOf(event), 'classification', labels.length);
    if (!action) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    if (action.kind === 'label') {
      setLabel(labels[action.index]);
    } else if (action.kind === 'clear') {
      setLabel(null);
    } else if (action.kind === 'next') {
      void model.nextUnlabeled();
    } else if (action.kind === 'previous') {
      model.previous();
    }
  };

  if (!model.loaded || !file) {
    return (
      <LabelerPlaceholder
        loaded={model.loaded}
        error={model.error}
        trans={trans}
      />
    );
  }
  const current = file.annotations?.labels?.[0] ?? null;
  return (
    <div
      ref={root}
      className="jp-tz-Labeler jp-tz-ClassificationLabeler"
      tabIndex={0}
      onKeyDown={onKeyDown}
      data-key={file.key}
      data-label={current ?? ''}
    >
      <LabelingProgress
        labeled={model.labeledCount}
        total={model.total}
        index={model.index}
        trans={trans}
      />
      <LabelButtons
        labels={labels}
        active={current}
        onChoose={i => {
          setLabel(labels[i]);
          root.current?.focus();
        }}
      />
      <div className="jp-tz-Labeler-stage">
        <img
          className="jp-tz-Labeler-image"
          alt={file.key}
          src={fileThumbnailURL(model.datasetId, file.key, null, 512, settings)}
        />
      </div>
      <div className="jp-tz-Labeler-footer">
        <button className="jp-tz-Button" onClick={() => model.previous()}>
          {trans.__('← Previous (p)')}
        </button>
        <span className="jp-tz-Labeler-key">{file.key}</span>
        <span className="jp-tz-Labeler-current">
          {current ?? trans.__('unlabeled')}
        </span>
        <button
          className="jp-tz-Button"
          onClick={() => void model.nextUnlabeled()}
        >
          {trans.__('Next unlabeled (n) →')}
        </button>
      </div>
      {labels.length === 0 && (
        <div className="jp-tz-Unavailable">
          {trans.__('This dataset has no labels: add some in its settings.')}
        </div>
      )}
    </div>
  );
}
