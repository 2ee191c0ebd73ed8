import * as React from 'react';

/**
 * Properties of `Datalist`.
 */
export interface IDatalistProps {
  id: string;
  values: ReadonlyArray<string>;
}

/**
 * The suggestions of an input (`<input list={id}>`).
 */
export function Datalist(props: IDatalistProps): JSX.Element {
  return (
    <datalist id={props.id}>
      {props.values.map(v => (
        <option key={v} value={v} />
      ))}
    </datalist>
  );
}
