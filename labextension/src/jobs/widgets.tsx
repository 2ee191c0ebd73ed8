/**
 * The main-area widgets of the jobs domain: the submit form and the job view.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { IJob } from '../api/jobs';
import { JobDetail } from './components/JobDetail';
import { ISubmitFormProps, SubmitForm } from './components/SubmitForm';
import { JobModel } from './model';

/**
 * The submit form as a widget; one is kept open and re-filled on request.
 */
export class SubmitWidget extends ReactWidget {
  /**
   * Create the form widget.
   *
   * @param options - initial values and actions.
   */
  constructor(options: SubmitWidget.IOptions) {
    super();
    this._options = options;
    this.addClass('jp-tz-SubmitWidget');
  }

  /**
   * Put a script path in the form (the name follows unless typed by the user).
   *
   * @param path - the script path, relative to the Lab root.
   */
  requestScript(path: string): void {
    this._scriptRequested.emit(path);
  }

  /**
   * Emits the script paths requested with `requestScript`.
   */
  get scriptRequested(): ISignal<this, string> {
    return this._scriptRequested;
  }

  protected render(): JSX.Element {
    const o = this._options;
    return (
      <SubmitForm
        trans={o.trans}
        initial={o.initial}
        scriptRequested={this._scriptRequested}
        pickScript={o.pickScript}
        onSubmit={o.onSubmit}
        onError={o.onError}
        onCancel={o.onCancel}
      />
    );
  }

  private _options: SubmitWidget.IOptions;
  private _scriptRequested = new Signal<this, string>(this);
}

/**
 * The namespace of `SubmitWidget`.
 */
export namespace SubmitWidget {
  /**
   * Options of the submit widget.
   */
  export type IOptions = Omit<ISubmitFormProps, 'scriptRequested'>;
}

/**
 * The view of one job (`.jp-tz-JobView[data-job-id]`); it owns its model and
 * disposes it (closing the streams) when closed.
 */
export class JobView extends ReactWidget {
  /**
   * Create the job view.
   *
   * @param options - the job model and actions.
   */
  constructor(options: JobView.IOptions) {
    super();
    this._options = options;
    this.model = options.model;
    this.addClass('jp-tz-JobView');
    this.node.dataset.jobId = options.model.id;
    this.title.label = options.model.id;
    this.title.caption = options.trans.__('Training job %1', options.model.id);
    this.model.changed.connect(this._onChanged, this);
  }

  /** The job model. */
  readonly model: JobModel;

  /** The job id. */
  get jobId(): string {
    return this.model.id;
  }

  /**
   * Dispose the widget and its model.
   */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    const o = this._options;
    return (
      <JobDetail
        model={this.model}
        trans={o.trans}
        onOpen={o.onOpen}
        onError={o.onError}
        onCloned={o.onCloned}
      />
    );
  }

  private _onChanged(): void {
    const job = this.model.job;
    if (job && this.title.label !== job.name) {
      this.title.label = job.name;
    }
    if (job) {
      this.node.dataset.status = job.status;
    }
  }

  private _options: JobView.IOptions;
}

/**
 * The namespace of `JobView`.
 */
export namespace JobView {
  /**
   * Options of the job view.
   */
  export interface IOptions {
    model: JobModel;
    trans: TranslationBundle;
    /** Open the view of a job. */
    onOpen: (id: string) => void;
    /** Show an error to the user. */
    onError: (message: string) => void;
    /** Called after a successful clone with the new job. */
    onCloned: (job: IJob) => void;
  }
}
