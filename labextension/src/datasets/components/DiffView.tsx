import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IDiff } from '../../api/datasets';

/**
 * Properties of `DiffView`.
 */
export interface IDiffViewProps {
  diff: IDiff;
  version: string;
  against: string;
  trans: TranslationBundle;
}

const labelsOf = (value: unknown): string => {
  const labels = (value as { labels?: unknown })?.labels;
  return Array.isArray(labels) ? labels.join(', ') : JSON.stringify(value);
};

/**
 * What changed from `against` to `version`: added, removed and relabeled
 * keys (the first 200 of each).
 */
export function DiffView(props: IDiffViewProps): JSX.Element {
  const { diff, version, against, trans } = props;
  const list = (keys: ReadonlyArray<string>, className: string) => (
    <ul className={`jp-tz-Diff-list ${className}`}>
      {keys.slice(0, 200).map(key => (
        <li key={key}>{key}</li>
      ))}
    </ul>
  );
  return (
    <div className="jp-tz-Diff">
      <div className="jp-tz-Diff-summary">
        {trans.__(
          '%1 against %2: %3 added, %4 removed, %5 relabeled',
          version,
          against,
          diff.added.length,
          diff.removed.length,
          diff.relabeled.length
        )}
      </div>
      {diff.added.length > 0 && list(diff.added, 'jp-tz-Diff-added')}
      {diff.removed.length > 0 && list(diff.removed, 'jp-tz-Diff-removed')}
      {diff.relabeled.length > 0 && (
        <ul className="jp-tz-Diff-list jp-tz-Diff-relabeled">
          {diff.relabeled.slice(0, 200).map(r => (
            <li key={r.key}>
              {`${r.key}: ${labelsOf(r.before)} → ${labelsOf(r.after)}`}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
