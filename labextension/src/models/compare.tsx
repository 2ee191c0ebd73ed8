/**
 * The main-area comparison of model versions (`.jp-tz-CompareView`).
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { CompareDetail } from './components/CompareDetail';

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
    const o = this._options;
    return (
      <CompareDetail
        versions={this.versions}
        dataset={this.datasetRef}
        settings={o.settings}
        trans={o.trans}
        onError={o.onError}
        onOpenModel={o.onOpenModel}
      />
    );
  }

  private _options: CompareView.IOptions;
}

/**
 * The namespace of `CompareView`.
 */
export namespace CompareView {
  export interface IOptions {
    versions: ReadonlyArray<string>;
    dataset?: string | null;
    settings: ServerConnection.ISettings;
    trans: TranslationBundle;
    onError: (message: string) => void;
    onOpenModel: (modelId: string, version: number) => void;
  }
}
