/**
 * The main-area view of one dataset (`.jp-tz-DatasetView[data-dataset-id]`).
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IDataset, IVersion } from '../api/datasets';
import { DatasetDetail } from './components/DatasetDetail';

/**
 * The dataset view widget.
 */
export class DatasetView extends ReactWidget {
  constructor(options: DatasetView.IOptions) {
    super();
    this._options = options;
    this.datasetId = options.datasetId;
    this.addClass('jp-tz-DatasetView');
    this.node.dataset.datasetId = options.datasetId;
    this.title.label = options.datasetId;
  }

  readonly datasetId: string;

  protected render(): JSX.Element {
    const o = this._options;
    return (
      <DatasetDetail
        datasetId={o.datasetId}
        settings={o.settings}
        trans={o.trans}
        onError={o.onError}
        onPublished={o.onPublished}
        onLoaded={(d: IDataset) => {
          this.title.label = d.name;
          this.title.caption = `${d.owner}/${d.name}`;
        }}
      />
    );
  }

  private _options: DatasetView.IOptions;
}

/**
 * The namespace of `DatasetView`.
 */
export namespace DatasetView {
  export interface IOptions {
    datasetId: string;
    settings: ServerConnection.ISettings;
    trans: TranslationBundle;
    onError: (message: string) => void;
    onPublished: (version: IVersion) => void;
  }
}
