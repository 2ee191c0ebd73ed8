/**
 * The Models sidebar panel (`.jp-tz-ModelsPanel`).
 */
import { ITranslator } from '@jupyterlab/translation';
import { SidePanel } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { addSection, identifySidePanel, refreshButton } from '../sidepanel';
import { ModelBrowser } from './components/ModelBrowser';
import { modelsIcon } from './icons';
import { ModelsModel } from './model';

/**
 * The Models sidebar panel.
 */
export class ModelsPanel extends SidePanel {
  constructor(options: ModelsPanel.IOptions) {
    super({ translator: options.translator });
    const { model } = options;
    const trans = options.translator.load('training-zoo');
    this._model = model;
    identifySidePanel(this, {
      id: 'tz-models-panel',
      className: 'jp-tz-ModelsPanel',
      icon: modelsIcon,
      title: trans.__('Models')
    });
    this.toolbar.addItem(
      'refresh',
      refreshButton(trans.__('Refresh models'), () => void model.refresh())
    );
    addSection(
      this,
      <ModelBrowser
        model={model}
        user={options.user}
        trans={trans}
        onOpen={options.onOpen}
      />,
      'jp-tz-ModelsBody',
      trans.__('All models')
    );
  }

  protected onBeforeShow(msg: Message): void {
    super.onBeforeShow(msg);
    void this._model.refresh();
  }

  private _model: ModelsModel;
}

/**
 * The namespace of `ModelsPanel`.
 */
export namespace ModelsPanel {
  export interface IOptions {
    model: ModelsModel;
    translator: ITranslator;
    user: string;
    onOpen: (id: string) => void;
  }
}
