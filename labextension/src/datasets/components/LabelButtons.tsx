import * as React from 'react';

/**
 * Properties of `LabelButtons`.
 */
export interface ILabelButtonsProps {
  labels: ReadonlyArray<string>;
  /** The highlighted label, or null. */
  active: string | null;
  onChoose: (index: number) => void;
}

/**
 * The dataset's labels as buttons, the first nine with their number key.
 */
export function LabelButtons(props: ILabelButtonsProps): JSX.Element {
  return (
    <div className="jp-tz-LabelButtons" role="toolbar">
      {props.labels.map((label, i) => (
        <button
          key={label}
          className={`jp-tz-Button jp-tz-LabelButton${
            props.active === label ? ' jp-mod-accept' : ''
          }`}
          data-label={label}
          aria-pressed={props.active === label}
          onClick={() => props.onChoose(i)}
        >
          {i < 9 && <kbd>{i + 1}</kbd>}
          <span>{label}</span>
        </button>
      ))}
    </div>
  );
}
