import * as React from 'react';

/**
 * Properties of `StatusBadge`.
 */
export interface IStatusBadgeProps {
  /** The job status; also the badge text. */
  status: string;
  /** Extra classes. */
  className?: string;
  /** A tooltip, e.g. the reason of a failure. */
  title?: string;
}

/**
 * A coloured badge whose text is exactly the job status (`.jp-tz-StatusBadge`).
 */
export function StatusBadge(props: IStatusBadgeProps): JSX.Element {
  const { status, className, title } = props;
  const classes = ['jp-tz-StatusBadge', `jp-tz-StatusBadge-${status}`];
  if (className) {
    classes.push(className);
  }
  return (
    <span className={classes.join(' ')} data-status={status} title={title}>
      {status}
    </span>
  );
}
