/**
 * The Models sidebar panel (`.jp-tz-ModelsPanel`).
 */
import { ReactWidget, ToolbarButton } from '@jupyterlab/apputils';
import { ITranslator } from '@jupyterlab/translation';
import { refreshIcon, SidePanel } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

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
    this.id = 'tz-models-panel';
    this.addClass('jp-tz-ModelsPanel');
    this.title.icon = modelsIcon;
    this.title.caption = trans.__('Models');
    const heading = document.createElement('h2');
    heading.textContent = trans.__('Models');
    this.header.addWidget(new Widget({ node: heading }));
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        className: 'jp-tz-RefreshButton',
        tooltip: trans.__('Refresh models'),
        onClick: () => void model.refresh()
      })
    );
    const body = ReactWidget.create(
      <ModelBrowser
        model={model}
        user={options.user}
        trans={trans}
        onOpen={options.onOpen}
      />
    );
    body.addClass('jp-tz-ModelsBody');
    body.title.label = trans.__('All models');
    this.addWidget(body);
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
