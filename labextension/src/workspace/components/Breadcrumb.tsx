import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

/**
 * Properties of `Breadcrumb`.
 */
export interface IBreadcrumbProps {
  path: string;
  trans: TranslationBundle;
  onOpen: (path: string) => void;
}

/**
 * The open folder as clickable segments, from the space root.
 */
export function Breadcrumb(props: IBreadcrumbProps): JSX.Element {
  const { path, trans, onOpen } = props;
  const segments = path ? path.split('/') : [];
  return (
    <nav className="jp-tz-Breadcrumb" aria-label={trans.__('Folder')}>
      <button
        className="jp-tz-LinkButton jp-tz-Breadcrumb-item"
        data-path=""
        onClick={() => onOpen('')}
        title={trans.__('Space root')}
      >
        {'⌂'}
      </button>
      {segments.map((segment, i) => {
        const target = segments.slice(0, i + 1).join('/');
        return (
          <React.Fragment key={target}>
            <span className="jp-tz-Breadcrumb-sep">/</span>
            <button
              className="jp-tz-LinkButton jp-tz-Breadcrumb-item"
              data-path={target}
              onClick={() => onOpen(target)}
            >
              {segment}
            </button>
          </React.Fragment>
        );
      })}
    </nav>
  );
}
