/**
 * The Datasets sidebar panel (`.jp-tz-DatasetsPanel`).
 */
import { ReactWidget, ToolbarButton } from '@jupyterlab/apputils';
import { ITranslator } from '@jupyterlab/translation';
import { addIcon, refreshIcon, SidePanel } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { datasetsIcon } from '../icons';
import { DatasetBrowser } from './components/DatasetBrowser';
import { DatasetsModel } from './model';

/**
 * The Datasets sidebar panel.
 */
export class DatasetsPanel extends SidePanel {
  constructor(options: DatasetsPanel.IOptions) {
    super({ translator: options.translator });
    const { model } = options;
    const trans = options.translator.load('training-zoo');
    this._model = model;
    this.id = 'tz-datasets-panel';
    this.addClass('jp-tz-DatasetsPanel');
    this.title.icon = datasetsIcon;
    this.title.caption = trans.__('Datasets');
    const heading = document.createElement('h2');
    heading.textContent = trans.__('Datasets');
    this.header.addWidget(new Widget({ node: heading }));
    this.toolbar.addItem(
      'new-dataset',
      new ToolbarButton({
        icon: addIcon,
        label: trans.__('New dataset'),
        className: 'jp-tz-NewDatasetButton',
        tooltip: trans.__('Create a dataset'),
        onClick: options.onCreate
      })
    );
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        className: 'jp-tz-RefreshButton',
        tooltip: trans.__('Refresh datasets'),
        onClick: () => void model.refresh()
      })
    );
    const body = ReactWidget.create(
      <DatasetBrowser
        model={model}
        user={options.user}
        trans={trans}
        onOpen={options.onOpen}
      />
    );
    body.addClass('jp-tz-DatasetsBody');
    body.title.label = trans.__('All datasets');
    this.addWidget(body);
  }

  protected onBeforeShow(msg: Message): void {
    super.onBeforeShow(msg);
    void this._model.refresh();
  }

  private _model: DatasetsModel;
}

/**
 * The namespace of `DatasetsPanel`.
 */
export namespace DatasetsPanel {
  export interface IOptions {
    model: DatasetsModel;
    translator: ITranslator;
    user: string;
    onCreate: () => void;
    onOpen: (id: string) => void;
  }
}
