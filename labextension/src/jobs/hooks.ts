/**
 * React hooks shared by the jobs components.
 */
import { ISignal } from '@lumino/signaling';
import { useEffect, useState } from 'react';

/**
 * Re-render the calling component whenever `signal` is emitted.
 *
 * @param signal - the signal to follow; null follows nothing.
 * @returns a counter that changes on every emission (usable as a memo key).
 */
export function useSignal<T>(signal: ISignal<T, unknown> | null): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (signal === null) {
      return;
    }
    const slot = () => setVersion(v => v + 1);
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
    };
  }, [signal]);
  return version;
}

/**
 * Re-render the calling component every `ms` milliseconds (for relative times).
 *
 * @param ms - the period; `null` stops the ticker.
 */
export function useTicker(ms: number | null): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (ms === null) {
      return;
    }
    const handle = window.setInterval(() => setTick(t => t + 1), ms);
    return () => window.clearInterval(handle);
  }, [ms]);
}
