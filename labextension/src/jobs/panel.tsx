/**
 * The Jobs sidebar panel (`.jp-tz-JobsPanel`): a toolbar with "New job" and
 * "Refresh", and two collapsible sections, "My jobs" and "Queue".
 */
import { ReactWidget, ToolbarButton } from '@jupyterlab/apputils';
import { ITranslator } from '@jupyterlab/translation';
import { addIcon, refreshIcon, SidePanel } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { jobsIcon } from '../icons';
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
    this.id = 'tz-jobs-panel';
    this.addClass('jp-tz-JobsPanel');
    this.title.icon = jobsIcon;
    this.title.caption = trans.__('Training Jobs');

    const heading = document.createElement('h2');
    heading.textContent = trans.__('Training Jobs');
    this.header.addWidget(new Widget({ node: heading }));

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
      new ToolbarButton({
        icon: refreshIcon,
        className: 'jp-tz-RefreshButton',
        tooltip: trans.__('Refresh jobs and queue'),
        onClick: () => void model.refresh()
      })
    );

    const jobs = ReactWidget.create(
      <JobList model={model} trans={trans} onOpen={onOpen} />
    );
    jobs.addClass('jp-tz-MyJobs');
    jobs.title.label = trans.__('My jobs');
    this.addWidget(jobs);

    const queue = ReactWidget.create(
      <QueueSummary model={model} trans={trans} onOpen={onOpen} />
    );
    queue.addClass('jp-tz-Queue');
    queue.title.label = trans.__('Queue');
    this.addWidget(queue);
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
