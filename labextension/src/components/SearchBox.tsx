import * as React from 'react';

import { useSearch } from '../hooks';
import { FilteredList, IListQuery } from '../listing';

/**
 * Properties of `SearchBox`.
 */
export interface ISearchBoxProps<T, Q extends IListQuery> {
  /** The list whose `q` filter the box sets. */
  list: FilteredList<T, Q>;
  /** The input's own class, next to `jp-tz-Input`. */
  className: string;
  /** The placeholder and accessible name. */
  label: string;
}

/**
 * The search box of a sidebar list (applied as the user pauses typing).
 */
export function SearchBox<T, Q extends IListQuery>(
  props: ISearchBoxProps<T, Q>
): JSX.Element {
  const [q, setQ] = useSearch(props.list);
  return (
    <input
      className={`jp-tz-Input ${props.className}`}
      type="search"
      placeholder={props.label}
      aria-label={props.label}
      value={q}
      onChange={e => setQ(e.target.value)}
    />
  );
}
