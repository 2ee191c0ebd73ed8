import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ProgressBar } from '../../components/ProgressBar';
import { VirtualList } from '../../components/VirtualList';
import { formatBytes, formatDuration, formatRate, percent } from '../../format';
import { useSignal, useTicker } from '../../jobs/hooks';
import { IUploadTask, UploadManager } from '../../uploads/manager';
import { UploadRow } from './UploadRow';

/**
 * Properties of `UploadsView`.
 */
export interface IUploadsViewProps {
  manager: UploadManager;
  trans: TranslationBundle;
  /** Tell the user that a picked file is not the interrupted one. */
  onError: (message: string) => void;
}

/**
 * The uploads dock of the Workspace panel: overall progress, Cancel all /
 * Clear, and one row per file (windowed: a folder of thousands of files is
 * fine).
 */
export function UploadsView(props: IUploadsViewProps): JSX.Element | null {
  const { manager, trans, onError } = props;
  useSignal(manager.changed);
  const totals = manager.totals;
  // Progress events stop when an upload stalls; the rate must still fall.
  useTicker(totals.active > 0 ? 1000 : null);
  const tasks = manager.tasks;
  if (tasks.length === 0) {
    return null;
  }
  const fraction = totals.size > 0 ? totals.sent / totals.size : 1;
  const interrupted = tasks.filter(t => t.state === 'interrupted').length;
  const count = tasks.filter(t => t.state !== 'cancelled').length;
  return (
    <section
      className="jp-tz-Uploads"
      aria-label={trans.__('Uploads')}
      data-active={totals.active}
    >
      <div className="jp-tz-Uploads-summary">
        <span className="jp-tz-Uploads-title">
          {totals.active > 0
            ? trans._n(
                'Uploading: %2 of %1 file done',
                'Uploading: %2 of %1 files done',
                count,
                totals.done
              )
            : interrupted > 0
              ? trans._n(
                  '%1 interrupted upload',
                  '%1 interrupted uploads',
                  interrupted
                )
              : trans._n(
                  'Uploads: %2 of %1 file done',
                  'Uploads: %2 of %1 files done',
                  count,
                  totals.done
                )}
        </span>
        {totals.active > 0 ? (
          <button
            className="jp-tz-LinkButton jp-tz-Uploads-cancelAll"
            onClick={() => void manager.cancelAll()}
          >
            {trans.__('Cancel all')}
          </button>
        ) : (
          <button
            className="jp-tz-LinkButton jp-tz-Uploads-clear"
            onClick={() => manager.clearFinished()}
          >
            {trans.__('Clear')}
          </button>
        )}
      </div>
      <div className="jp-tz-Uploads-bytes">
        <span>
          {`${formatBytes(totals.sent)} / ${formatBytes(totals.size)} · ${percent(fraction)}`}
        </span>
        {totals.rate !== null && (
          <span className="jp-tz-Uploads-rate">
            {totals.secondsLeft !== null
              ? trans.__(
                  '%1 · %2 left',
                  formatRate(totals.rate),
                  formatDuration(totals.secondsLeft)
                )
              : formatRate(totals.rate)}
          </span>
        )}
      </div>
      <ProgressBar
        value={fraction}
        label={trans.__('All uploads')}
        state={
          totals.failed > 0
            ? 'failed'
            : totals.active > 0
              ? 'uploading'
              : 'done'
        }
      />
      {totals.failed > 0 && (
        <div className="jp-tz-Uploads-failed" role="alert">
          {trans._n('%1 file failed', '%1 files failed', totals.failed)}
        </div>
      )}
      <VirtualList<IUploadTask>
        className="jp-tz-Uploads-list"
        style={{ height: Math.min(4, tasks.length) * 52 + 2 }}
        items={tasks}
        rowHeight={52}
        label={trans.__('Uploads')}
        rowKey={task => task.key}
        renderRow={task => (
          <UploadRow
            task={task}
            trans={trans}
            onCancel={key => void manager.cancel(key)}
            onRetry={key => manager.retry(key)}
            onDiscard={key => void manager.discard(key)}
            onResume={(key, file) => {
              if (!manager.resume(key, file)) {
                onError(
                  trans.__(
                    '%1 is not the file this upload was sending (name, size and date must match).',
                    file.name
                  )
                );
              }
            }}
          />
        )}
      />
    </section>
  );
}
