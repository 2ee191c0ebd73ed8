/**
 * The `training-zoo:jobs` plugin: the Jobs sidebar panel, the submit form, the
 * "Train with TZ" file-browser item and the job views, wired to commands.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import {
  IDefaultFileBrowser,
  IFileBrowserFactory
} from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import {
  createSnapshot,
  Framework,
  FRAMEWORKS,
  IJob,
  submitJob
} from '../api/jobs';
import { jobsIcon } from '../icons';
import { notifyError, openMain, requiredArg, widgetId } from '../shell';
import {
  CommandIDs,
  IJobsModel,
  ITzJobsModel,
  JOBS_PLUGIN_ID
} from '../tokens';
import { SubmitStage } from './components/SubmitForm';
import { JobModel, JobsModel } from './model';
import { JobsPanel } from './panel';
import { ISubmission } from './spec';
import { JobView, SubmitWidget } from './widgets';

/**
 * The jobs plugin.
 */
export const jobsPlugin: JupyterFrontEndPlugin<IJobsModel> = {
  id: JOBS_PLUGIN_ID,
  description:
    'Training Zoo jobs: a sidebar of jobs and queue, a submit form and live job views.',
  autoStart: true,
  provides: ITzJobsModel,
  optional: [
    ILayoutRestorer,
    ISettingRegistry,
    ITranslator,
    ICommandPalette,
    IDefaultFileBrowser,
    IFileBrowserFactory
  ],
  activate
};

function activate(
  app: JupyterFrontEnd,
  restorer: ILayoutRestorer | null,
  settingRegistry: ISettingRegistry | null,
  translator: ITranslator | null,
  palette: ICommandPalette | null,
  defaultBrowser: IDefaultFileBrowser | null,
  browserFactory: IFileBrowserFactory | null
): IJobsModel {
  const { commands, shell, serviceManager } = app;
  const serverSettings = serviceManager.serverSettings;
  translator = translator ?? nullTranslator;
  const trans = translator.load('training-zoo');
  const config: Private.IConfig = { ...Private.DEFAULTS };

  const model = new JobsModel({
    serverSettings,
    refreshInterval: config.refreshInterval * 1000
  });

  const openJob = (id: string) =>
    void commands.execute(CommandIDs.openJob, { id });

  const panel = new JobsPanel({
    model,
    translator,
    onNewJob: () => void commands.execute(CommandIDs.submit),
    onOpen: openJob
  });
  shell.add(panel, 'left', { rank: 500 });
  restorer?.add(panel, 'tz-jobs-panel');

  const tracker = new WidgetTracker<MainAreaWidget<JobView>>({
    namespace: 'tz-job'
  });
  if (restorer) {
    void restorer.restore(tracker, {
      command: CommandIDs.openJob,
      args: widget => ({ id: widget.content.jobId }),
      name: widget => widget.content.jobId
    });
  }

  /**
   * The `.py` file selected in the current (or default) file browser, as a
   * path relative to the Lab root.
   */
  const pickScript = (): string | null => {
    const browser = browserFactory?.tracker.currentWidget ?? defaultBrowser;
    if (!browser) {
      return null;
    }
    for (const item of browser.selectedItems()) {
      if (item.type === 'file' && /\.py$/i.test(item.path)) {
        return serviceManager.contents.localPath(item.path);
      }
    }
    return null;
  };

  let form: MainAreaWidget<SubmitWidget> | null = null;

  const openForm = (script: string): MainAreaWidget<SubmitWidget> => {
    if (form && !form.isDisposed) {
      if (script) {
        form.content.requestScript(script);
      }
      shell.activateById(form.id);
      return form;
    }
    const onSubmit = async (
      submission: ISubmission,
      onStage: (stage: SubmitStage) => void
    ): Promise<void> => {
      const snapshot = await createSnapshot(submission.folder, serverSettings);
      onStage('submit');
      const job = await submitJob(
        { ...submission.spec, snapshot: snapshot.id },
        serverSettings
      );
      Notification.success(trans.__('Submitted job %1', job.id), {
        autoClose: 3000
      });
      widget.dispose();
      void model.refresh();
      await commands.execute(CommandIDs.openJob, { id: job.id });
    };
    const content = new SubmitWidget({
      trans,
      initial: {
        script,
        framework: config.defaultFramework,
        gpus: String(config.defaultGpusPerNode)
      },
      pickScript,
      onSubmit,
      onError: notifyError,
      onCancel: () => widget.dispose()
    });
    const widget = openMain(shell, content, {
      id: 'tz-submit-form',
      label: trans.__('New training job'),
      icon: jobsIcon
    });
    form = widget;
    return widget;
  };

  commands.addCommand(CommandIDs.openPanel, {
    label: trans.__('Show Training Jobs'),
    caption: trans.__('Show the Training Zoo jobs panel'),
    icon: args => (args.isPalette ? undefined : jobsIcon),
    execute: () => {
      shell.activateById(panel.id);
    }
  });

  commands.addCommand(CommandIDs.submit, {
    label: trans.__('New Training Job…'),
    caption: trans.__('Submit a training job to Training Zoo'),
    icon: args => (args.isPalette ? undefined : jobsIcon),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          script: {
            type: 'string',
            description: trans.__('Script path relative to the Lab root')
          }
        }
      }
    },
    execute: args => {
      const script =
        typeof args.script === 'string' ? args.script : (pickScript() ?? '');
      return openForm(script);
    }
  });

  commands.addCommand(CommandIDs.trainFile, {
    label: trans.__('Train with TZ'),
    caption: trans.__('Submit this script as a Training Zoo job'),
    icon: jobsIcon,
    isVisible: () => pickScript() !== null,
    execute: () => {
      const script = pickScript();
      return script ? openForm(script) : undefined;
    }
  });

  commands.addCommand(CommandIDs.openJob, {
    label: args =>
      args.id
        ? trans.__('Open Training Job %1', String(args.id))
        : trans.__('Open Training Job'),
    icon: args => (args.isPalette ? undefined : jobsIcon),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          id: { type: 'string', description: trans.__('The job id') }
        },
        required: ['id']
      }
    },
    execute: args => {
      const id = requiredArg(args, 'id', CommandIDs.openJob);
      const existing = tracker.find(widget => widget.content.jobId === id);
      if (existing) {
        shell.activateById(existing.id);
        return existing;
      }
      const jobModel = new JobModel({
        id,
        serverSettings,
        refreshInterval: config.jobRefreshInterval * 1000,
        maxLogLines: config.maxLogLines
      });
      const content = new JobView({
        model: jobModel,
        trans,
        onOpen: openJob,
        onError: notifyError,
        onCloned: (job: IJob) => {
          void model.refresh();
          openJob(job.id);
        }
      });
      const widget = openMain(shell, content, {
        id: widgetId('tz-job', id),
        icon: jobsIcon,
        tracker
      });
      jobModel.start();
      return widget;
    }
  });

  if (palette) {
    const category = trans.__('Training Zoo');
    palette.addItem({ command: CommandIDs.openPanel, category });
    palette.addItem({ command: CommandIDs.submit, category });
  }

  if (settingRegistry) {
    // Not awaited: the panel works with the defaults until settings load.
    Promise.all([settingRegistry.load(JOBS_PLUGIN_ID), app.restored])
      .then(([settings]) => {
        const apply = () => {
          Object.assign(config, Private.read(settings.composite));
          model.refreshInterval = config.refreshInterval * 1000;
        };
        apply();
        settings.changed.connect(apply);
      })
      .catch(reason => {
        console.error(`Failed to load settings for ${JOBS_PLUGIN_ID}.`, reason);
      });
  }

  return model;
}

namespace Private {
  /**
   * The settings of the plugin (see `schema/jobs.json`).
   */
  export interface IConfig {
    /** Seconds between refreshes of the Jobs panel. */
    refreshInterval: number;
    /** Seconds between status refreshes of an open, unfinished job. */
    jobRefreshInterval: number;
    /** Log lines kept per job view. */
    maxLogLines: number;
    /** The framework preselected in the submit form. */
    defaultFramework: Framework;
    /** The GPUs per node preselected in the submit form. */
    defaultGpusPerNode: number;
  }

  /**
   * The defaults, as in the schema.
   */
  export const DEFAULTS: IConfig = {
    refreshInterval: 5,
    jobRefreshInterval: 1,
    maxLogLines: 10000,
    defaultFramework: 'pytorch',
    defaultGpusPerNode: 0
  };

  /**
   * Read the settings, falling back to the defaults on bad values.
   */
  export function read(composite: Record<string, unknown>): IConfig {
    const num = (key: keyof IConfig, min: number): number => {
      const value = composite[key];
      return typeof value === 'number' && Number.isFinite(value) && value >= min
        ? value
        : (DEFAULTS[key] as number);
    };
    const framework = composite.defaultFramework;
    return {
      refreshInterval: num('refreshInterval', 1),
      jobRefreshInterval: num('jobRefreshInterval', 0.5),
      maxLogLines: Math.round(num('maxLogLines', 100)),
      defaultFramework: (FRAMEWORKS as ReadonlyArray<unknown>).includes(
        framework
      )
        ? (framework as Framework)
        : DEFAULTS.defaultFramework,
      defaultGpusPerNode: Math.round(num('defaultGpusPerNode', 0))
    };
  }
}
