/**
 * The main-area view of one model (`.jp-tz-ModelView[data-model-id]`).
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { Signal } from '@lumino/signaling';
import * as React from 'react';

import { IModel } from '../api/models';
import { IModelDetailProps, ModelDetail } from './components/ModelDetail';

/**
 * The model view widget.
 */
export class ModelView extends ReactWidget {
  constructor(options: ModelView.IOptions) {
    super();
    this._options = options;
    this.modelId = options.modelId;
    this.addClass('jp-tz-ModelView');
    this.node.dataset.modelId = options.modelId;
    this.title.label = options.modelId;
  }

  readonly modelId: string;

  /**
   * Select a version (the view was opened again for it).
   */
  selectVersion(version: number): void {
    this._versionRequested.emit(version);
  }

  protected render(): JSX.Element {
    const { version, ...props } = this._options;
    return (
      <ModelDetail
        {...props}
        initialVersion={version ?? null}
        versionRequested={this._versionRequested}
        onLoaded={(m: IModel) => {
          this.title.label = m.name;
          this.title.caption = `${m.owner}/${m.name}`;
        }}
      />
    );
  }

  private _options: ModelView.IOptions;
  private _versionRequested = new Signal<this, number>(this);
}

/**
 * The namespace of `ModelView`.
 */
export namespace ModelView {
  /**
   * The detail's properties but those the view provides; `version` is the
   * one to select first (the latest when absent).
   */
  export interface IOptions extends Omit<
    IModelDetailProps,
    'initialVersion' | 'versionRequested' | 'onLoaded'
  > {
    version?: number | null;
  }
}
