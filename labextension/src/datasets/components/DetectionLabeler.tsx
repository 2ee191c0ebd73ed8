import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { contentURL, IBox } from '../../api/datasets';
import { errorMessage } from '../../api/request';
import { useSignal } from '../../jobs/hooks';
import { keyAction, pressOf } from '../keys';
import { LabelingModel } from '../labeling';
import { BoxEditor } from './BoxEditor';
import { LabelButtons } from './LabelButtons';
import { LabelerPlaceholder } from './LabelerPlaceholder';
import { LabelingProgress } from './LabelingProgress';

/**
 * Properties of `DetectionLabeler`.
 */
export interface IDetectionLabelerProps {
  model: LabelingModel;
  labels: ReadonlyArray<string>;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
  onError: (message: string) => void;
}

/**
 * Object detection: draw boxes by dragging, move and resize them, 1–9 label
 * the selected box (or the next one drawn), Del deletes it, Esc deselects,
 * n/→ next unlabeled, p/← previous. Every finished change is saved with the
 * file's revision.
 */
export function DetectionLabeler(props: IDetectionLabelerProps): JSX.Element {
  const { model, labels, settings, trans, onError } = props;
  useSignal(model.changed);
  const root = React.useRef<HTMLDivElement>(null);
  const queue = React.useRef<Promise<unknown>>(Promise.resolve());
  const [selected, setSelected] = React.useState(-1);
  const [drawLabel, setDrawLabel] = React.useState(labels[0] ?? '');
  React.useEffect(() => root.current?.focus(), [model.loaded]);
  const file = model.current;
  React.useEffect(() => setSelected(-1), [file?.key]);
  const boxes: IBox[] = file?.annotations?.boxes ?? [];

  const save = (next: IBox[]) => {
    if (!file) {
      return;
    }
    const key = file.key;
    const annotations = { labels: file.annotations?.labels ?? [], boxes: next };
    queue.current = queue.current
      .then(() => model.save(key, annotations))
      .catch(e => onError(errorMessage(e)));
  };

  const chooseLabel = (index: number) => {
    const label = labels[index];
    setDrawLabel(label);
    if (selected >= 0 && boxes[selected]) {
      save(boxes.map((b, i) => (i === selected ? { ...b, label } : b)));
    }
  };

  const onKeyDown = (event: React.KeyboardEvent) => {
    const action = keyAction(pressOf(event), 'detection', labels.length);
    if (!action) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    switch (action.kind) {
      case 'label':
        chooseLabel(action.index);
        break;
      case 'delete':
        if (selected >= 0) {
          save(boxes.filter((_, i) => i !== selected));
          setSelected(-1);
        }
        break;
      case 'deselect':
        setSelected(-1);
        break;
      case 'next':
        void queue.current.then(() => model.nextUnlabeled());
        break;
      case 'previous':
        model.previous();
        break;
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
  return (
    <div
      ref={root}
      className="jp-tz-Labeler jp-tz-DetectionLabeler"
      tabIndex={0}
      onKeyDown={onKeyDown}
      data-key={file.key}
      data-boxes={boxes.length}
    >
      <LabelingProgress
        labeled={model.labeledCount}
        total={model.total}
        index={model.index}
        trans={trans}
      />
      <LabelButtons
        labels={labels}
        active={selected >= 0 ? (boxes[selected]?.label ?? null) : drawLabel}
        onChoose={i => {
          chooseLabel(i);
          root.current?.focus();
        }}
      />
      <div className="jp-tz-Labeler-stage">
        <BoxEditor
          key={file.key}
          src={contentURL(model.datasetId, file.key, null, settings)}
          boxes={boxes}
          selected={selected}
          drawLabel={drawLabel}
          onSelect={i => {
            setSelected(i);
            root.current?.focus();
          }}
          onChange={(next, index) => {
            setSelected(index);
            save(next);
            root.current?.focus();
          }}
        />
      </div>
      <div className="jp-tz-Labeler-footer">
        <button className="jp-tz-Button" onClick={() => model.previous()}>
          {trans.__('← Previous (p)')}
        </button>
        <span className="jp-tz-Labeler-key">{file.key}</span>
        <span>{trans._n('%1 box', '%1 boxes', boxes.length)}</span>
        {selected >= 0 && (
          <button
            className="jp-tz-Button jp-mod-warn jp-tz-DeleteBox"
            onClick={() => {
              save(boxes.filter((_, i) => i !== selected));
              setSelected(-1);
            }}
          >
            {trans.__('Delete box (Del)')}
          </button>
        )}
        <button
          className="jp-tz-Button"
          onClick={() => void queue.current.then(() => model.nextUnlabeled())}
        >
          {trans.__('Next unlabeled (n) →')}
        </button>
      </div>
    </div>
  );
}
