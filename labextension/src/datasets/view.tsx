/**
 * The main-area view of one dataset (`.jp-tz-DatasetView[data-dataset-id]`).
 */
import { ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';

import { IDataset } from '../api/datasets';
import { DatasetDetail, IDatasetDetailProps } from './components/DatasetDetail';

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
    return (
      <DatasetDetail
        {...this._options}
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
  /**
   * The detail's properties but `onLoaded` (the view follows the name).
   */
  export type IOptions = Omit<IDatasetDetailProps, 'onLoaded'>;
}
