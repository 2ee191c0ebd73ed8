/**
 * React hooks shared by the domains' components.
 */
import { useState } from 'react';

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
