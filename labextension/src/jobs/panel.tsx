/**
 * The Jobs sidebar panel (`.jp-tz-JobsPanel`): a toolbar with "New job" and
 * "Refresh", and two collapsible sections, "My jobs" and "Queue".
 */
import { ToolbarButton } from '@jupyterlab/apputils';
import { ITranslator } from '@jupyterlab/translation';
import { addIcon, SidePanel } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { jobsIcon } from '../icons';
import { addSection, identifySidePanel, refreshButton } from '../sidepanel';
import { JobList } from './components/JobList';
import { QueueSummary } from './components/QueueSummary';
import { JobsModel } from './model';

/**
 * The Jobs sidebar panel.
 */
export class JobsPanel extends SidePanel {
  /**
   * Create the panel.
   *
   * @param options - the model, the translator and the actions.
   */
  constructor(options: JobsPanel.IOptions) {
    super({ translator: options.translator });
    const { model, onNewJob, onOpen } = options;
    const trans = options.translator.load('training-zoo');
    this._model = model;
    identifySidePanel(this, {
      id: 'tz-jobs-panel',
      className: 'jp-tz-JobsPanel',
      icon: jobsIcon,
      title: trans.__('Training Jobs')
    });

    this.toolbar.addItem(
      'new-job',
      new ToolbarButton({
        icon: addIcon,
        label: trans.__('New job'),
        className: 'jp-tz-NewJobButton',
        tooltip: trans.__('Submit a new training job'),
        onClick: onNewJob
      })
    );
    this.toolbar.addItem(
      'refresh',
      refreshButton(
        trans.__('Refresh jobs and queue'),
        () => void model.refresh()
      )
    );

    addSection(
      this,
      <JobList model={model} trans={trans} onOpen={onOpen} />,
      'jp-tz-MyJobs',
      trans.__('My jobs')
    );
    addSection(
      this,
      <QueueSummary model={model} trans={trans} onOpen={onOpen} />,
      'jp-tz-Queue',
      trans.__('Queue')
    );
  }

  /**
   * Resume polling and refresh when the panel is shown.
   */
  protected onBeforeShow(msg: Message): void {
    super.onBeforeShow(msg);
    this._model.active = true;
    void this._model.refresh();
  }

  /**
   * Let polling stand by while the panel is hidden.
   */
  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.active = false;
  }

  private _model: JobsModel;
}

/**
 * The namespace of `JobsPanel`.
 */
export namespace JobsPanel {
  /**
   * Options of the Jobs panel.
   */
  export interface IOptions {
    model: JobsModel;
    translator: ITranslator;
    /** Open the submit form. */
    onNewJob: () => void;
    /** Open the view of a job. */
    onOpen: (id: string) => void;
  }
}
