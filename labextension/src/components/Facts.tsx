import * as React from 'react';

/**
 * A fact of a header: its label and its value.
 */
export type Fact = [string, React.ReactNode];

/**
 * Properties of `Facts`.
 */
export interface IFactsProps {
  facts: ReadonlyArray<Fact>;
}

/**
 * The labelled facts under a view's header (`dl.jp-tz-JobFacts`).
 */
export function Facts(props: IFactsProps): JSX.Element {
  return (
    <dl className="jp-tz-JobFacts">
      {props.facts.map(([label, value]) => (
        <div key={label} className="jp-tz-JobFacts-item">
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
