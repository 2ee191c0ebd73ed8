/**
 * The Datasets sidebar panel (`.jp-tz-DatasetsPanel`).
 */
import { ToolbarButton } from '@jupyterlab/apputils';
import { ITranslator } from '@jupyterlab/translation';
import { addIcon, SidePanel } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { datasetsIcon } from '../icons';
import { addSection, identifySidePanel, refreshButton } from '../sidepanel';
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
    identifySidePanel(this, {
      id: 'tz-datasets-panel',
      className: 'jp-tz-DatasetsPanel',
      icon: datasetsIcon,
      title: trans.__('Datasets')
    });
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
      refreshButton(trans.__('Refresh datasets'), () => void model.refresh())
    );
    addSection(
      this,
      <DatasetBrowser
        model={model}
        user={options.user}
        trans={trans}
        onOpen={options.onOpen}
      />,
      'jp-tz-DatasetsBody',
      trans.__('All datasets')
    );
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
