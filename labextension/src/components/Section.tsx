import * as React from 'react';

/**
 * Properties of `Section`.
 */
export interface ISectionProps {
  title: string;
  /** The section's own class, next to `jp-tz-Section`. */
  className?: string;
  children: React.ReactNode;
}

/**
 * A titled, bordered part of a main-area view (`section.jp-tz-Section`).
 */
export function Section(props: ISectionProps): JSX.Element {
  const className = props.className
    ? `jp-tz-Section ${props.className}`
    : 'jp-tz-Section';
  return (
    <section className={className}>
      <h3 className="jp-tz-Section-title">{props.title}</h3>
      {props.children}
    </section>
  );
}
