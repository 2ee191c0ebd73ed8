/**
 * React hooks of the models views.
 */
import { ServerConnection } from '@jupyterlab/services';
import { useEffect, useRef, useState } from 'react';

import { getRun, IRun, isRunFinished } from '../api/models';
import { errorMessage } from '../api/request';

/**
 * How often an unfinished run is polled, in ms.
 */
export const RUN_POLL_MS = 1500;

/**
 * Follow a run until it finishes: poll `GET /models/runs/{id}` every 1.5 s
 * while its status is not final.
 *
 * @param initial - the run as last listed (a newer listing replaces it).
 * @param settings - the server settings.
 * @param onFinished - called once when the run reaches a final status here.
 * @returns the freshest run and the last polling error, if any.
 */
export function useRun(
  initial: IRun,
  settings: ServerConnection.ISettings,
  onFinished?: (run: IRun) => void
): { run: IRun; error: string | null } {
  const [run, setRun] = useState<IRun>(initial);
  const [error, setError] = useState<string | null>(null);
  const finishedRef = useRef(onFinished);
  finishedRef.current = onFinished;

  // A newer listing of the same run wins over a stale poll.
  useEffect(() => {
    setRun(current =>
      current.id !== initial.id ||
      (isRunFinished(initial.status) && !isRunFinished(current.status))
        ? initial
        : current
    );
  }, [initial.id, initial.status]);

  const finished = isRunFinished(run.status);
  useEffect(() => {
    if (finished) {
      return;
    }
    let stopped = false;
    let handle = 0;
    const tick = async () => {
      try {
        const next = await getRun(run.id, settings);
        if (stopped) {
          return;
        }
        setRun(next);
        setError(null);
        if (isRunFinished(next.status)) {
          finishedRef.current?.(next);
          return;
        }
      } catch (e) {
        if (stopped) {
          return;
        }
        setError(errorMessage(e));
      }
      handle = window.setTimeout(() => void tick(), RUN_POLL_MS);
    };
    handle = window.setTimeout(() => void tick(), RUN_POLL_MS);
    return () => {
      stopped = true;
      window.clearTimeout(handle);
    };
  }, [run.id, finished]);

  return { run, error };
}
