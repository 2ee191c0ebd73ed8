/**
 * React hooks shared by the domains' components.
 */
import { useEffect, useState } from 'react';

import { errorMessage } from './api/request';
import { FilteredList, IListQuery } from './listing';

/**
 * The value a form edits: each patch updates it and is reported whole.
 *
 * @param initial - the first value.
 * @param onChange - called with the whole value after every patch.
 * @returns the value and the function that patches it.
 */
export function useDraft<T>(
  initial: T,
  onChange: (value: T) => void
): [T, (patch: Partial<T>) => void] {
  const [value, setValue] = useState<T>(initial);
  const update = (patch: Partial<T>) => {
    const next = { ...value, ...patch };
    setValue(next);
    onChange(next);
  };
  return [value, update];
}

/**
 * The text of a list's search box: shown as typed, applied to the list's `q`
 * filter 250 ms after the last keystroke.
 *
 * @param list - the list to search.
 * @returns the text and its setter.
 */
export function useSearch<T, Q extends IListQuery>(
  list: FilteredList<T, Q>
): [string, (q: string) => void] {
  const [q, setQ] = useState(list.filters.q ?? '');
  useEffect(() => {
    const handle = window.setTimeout(() => {
      if (q !== (list.filters.q ?? '')) {
        void list.setFilters({ q } as Partial<Q>);
      }
    }, 250);
    return () => window.clearTimeout(handle);
  }, [q]);
  return [q, setQ];
}

/**
 * Run user actions one at a time: busy while one runs, its error reported.
 *
 * @param onError - shows the message of a failed action.
 * @returns whether an action runs, and the function that runs one.
 */
export function useBusy(
  onError: (message: string) => void
): [boolean, (action: () => Promise<void>) => Promise<void>] {
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    try {
      await action();
    } catch (error) {
      onError(errorMessage(error));
    } finally {
      setBusy(false);
    }
  };
  return [busy, run];
}
