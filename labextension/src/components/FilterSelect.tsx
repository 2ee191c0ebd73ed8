import * as React from 'react';

/**
 * Properties of `FilterSelect`.
 */
export interface IFilterSelectProps {
  /** The select's own class, next to `jp-tz-Input`. */
  className: string;
  /** The accessible name. */
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** The `option`s, the "any" one first. */
  children: React.ReactNode;
}

/**
 * A filter of a sidebar list.
 */
export function FilterSelect(props: IFilterSelectProps): JSX.Element {
  return (
    <select
      className={`jp-tz-Input ${props.className}`}
      aria-label={props.label}
      value={props.value}
      onChange={e => props.onChange(e.target.value)}
    >
      {props.children}
    </select>
  );
}
