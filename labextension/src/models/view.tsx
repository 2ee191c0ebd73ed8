/**
 * The main-area view of one model (`.jp-tz-ModelView[data-model-id]`).
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import * as React from 'react';

import { IModel } from '../api/models';
import { ModelDetail } from './components/ModelDetail';

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
    const o = this._options;
    return (
      <ModelDetail
        modelId={o.modelId}
        initialVersion={o.version ?? null}
        versionRequested={this._versionRequested}
        settings={o.settings}
        trans={o.trans}
        rendermime={o.rendermime}
        onError={o.onError}
        onOpenJob={o.onOpenJob}
        onOpenDataset={o.onOpenDataset}
        onOpenModel={o.onOpenModel}
        onCompare={o.onCompare}
        onChanged={o.onChanged}
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
  export interface IOptions {
    modelId: string;
    version?: number | null;
    settings: ServerConnection.ISettings;
    trans: TranslationBundle;
    rendermime: IRenderMimeRegistry | null;
    onError: (message: string) => void;
    onOpenJob: (id: string) => void;
    onOpenDataset: (id: string) => void;
    onOpenModel: (modelId: string, version: number | null) => void;
    onCompare: (versions: string[]) => void;
    onChanged: () => void;
  }
}
