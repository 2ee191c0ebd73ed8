import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ProgressBar } from '../../components/ProgressBar';
import { formatBytes, percent } from '../../format';
import { IUploadTask } from '../../uploads/manager';

/**
 * Properties of `UploadRow`.
 */
export interface IUploadRowProps {
  task: IUploadTask;
  trans: TranslationBundle;
  onCancel: (key: string) => void;
  onRetry: (key: string) => void;
  /** An interrupted upload: the user picked a file to continue with. */
  onResume: (key: string, file: File) => void;
  onDiscard: (key: string) => void;
}

/**
 * One file's upload: name, state, progress bar, bytes, and Cancel / Retry /
 * "Pick file to resume" / Discard.
 */
export function UploadRow(props: IUploadRowProps): JSX.Element {
  const { task, trans } = props;
  const picker = React.useRef<HTMLInputElement>(null);
  const fraction =
    task.size > 0 ? task.sent / task.size : task.state === 'done' ? 1 : 0;
  const states: Record<string, string> = {
    queued: trans.__('queued'),
    uploading: percent(fraction),
    completing: trans.__('finishing'),
    done: trans.__('done'),
    failed: trans.__('failed'),
    cancelled: trans.__('cancelled'),
    interrupted: trans.__('interrupted')
  };
  const active = ['queued', 'uploading', 'completing'].includes(task.state);
  return (
    <div
      className="jp-tz-UploadRow"
      data-state={task.state}
      data-path={task.path}
      title={task.error ?? task.path}
    >
      <div className="jp-tz-UploadRow-main">
        <span className="jp-tz-UploadRow-name">{task.label}</span>
        <span className="jp-tz-UploadRow-state">{states[task.state]}</span>
        {active && (
          <button
            className="jp-tz-LinkButton jp-tz-UploadRow-cancel"
            onClick={() => props.onCancel(task.key)}
          >
            {trans.__('Cancel')}
          </button>
        )}
        {task.state === 'failed' && (
          <button
            className="jp-tz-LinkButton jp-tz-UploadRow-retry"
            onClick={() => props.onRetry(task.key)}
          >
            {trans.__('Retry')}
          </button>
        )}
        {task.state === 'interrupted' && (
          <>
            <button
              className="jp-tz-LinkButton jp-tz-UploadRow-resume"
              onClick={() => picker.current?.click()}
              title={trans.__('Pick the same file again to send the rest')}
            >
              {trans.__('Resume…')}
            </button>
            <input
              ref={picker}
              type="file"
              className="jp-tz-UploadRow-picker"
              hidden
              onChange={event => {
                const file = event.target.files?.[0];
                event.target.value = '';
                if (file) {
                  props.onResume(task.key, file);
                }
              }}
            />
            <button
              className="jp-tz-LinkButton jp-tz-UploadRow-discard"
              onClick={() => props.onDiscard(task.key)}
            >
              {trans.__('Discard')}
            </button>
          </>
        )}
      </div>
      <ProgressBar
        value={fraction}
        state={task.state}
        label={trans.__('Upload of %1', task.label)}
      />
      <div className="jp-tz-UploadRow-meta">
        {task.state === 'failed' && task.error
          ? task.error
          : `${formatBytes(task.sent)} / ${formatBytes(task.size)}`}
        {task.retries > 0 &&
          ` · ${trans._n('%1 retry', '%1 retries', task.retries)}`}
      </div>
    </div>
  );
}
