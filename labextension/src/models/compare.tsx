/**
 * The main-area comparison of model versions (`.jp-tz-CompareView`).
 */
import { ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';

import { CompareDetail, ICompareDetailProps } from './components/CompareDetail';

/**
 * The comparison widget.
 */
export class CompareView extends ReactWidget {
  constructor(options: CompareView.IOptions) {
    super();
    this._options = options;
    this.versions = [...options.versions];
    this.datasetRef = options.dataset ?? null;
    this.addClass('jp-tz-CompareView');
    this.node.dataset.versions = this.versions.join(',');
    this.title.label = options.trans.__('Compare %1', this.versions.length);
    this.title.caption = this.versions.join(', ');
  }

  /** The compared versions, `mdl-id:N`. */
  readonly versions: ReadonlyArray<string>;

  /** The dataset of the compared evaluations, if one was asked for. */
  readonly datasetRef: string | null;

  protected render(): JSX.Element {
    return (
      <CompareDetail
        {...this._options}
        versions={this.versions}
        dataset={this.datasetRef}
      />
    );
  }

  private _options: CompareView.IOptions;
}

/**
 * The namespace of `CompareView`.
 */
export namespace CompareView {
  /**
   * The detail's properties; `dataset` may be left out (the latest of each).
   */
  export interface IOptions extends Omit<ICompareDetailProps, 'dataset'> {
    dataset?: string | null;
  }
}
