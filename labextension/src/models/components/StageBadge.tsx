import * as React from 'react';

/**
 * Properties of `StageBadge`.
 */
export interface IStageBadgeProps {
  /** The stage; also the badge text. */
  stage: string;
  /** Text shown instead of the stage (e.g. "prod v3"). */
  label?: string;
  title?: string;
}

/**
 * A coloured badge of a version stage (`.jp-tz-StageBadge[data-stage]`).
 * Nothing for the stage `none`, unless a label is given.
 */
export function StageBadge(props: IStageBadgeProps): JSX.Element | null {
  const { stage, label, title } = props;
  if (stage === 'none' && !label) {
    return null;
  }
  return (
    <span
      className={`jp-tz-StageBadge jp-tz-StageBadge-${stage}`}
      data-stage={stage}
      title={title}
    >
      {label ?? stage}
    </span>
  );
}
