/**
 * The `training-zoo:models` plugin: the Models sidebar panel, the model views,
 * the comparison views and "Register model" on succeeded jobs.
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
import { PageConfig } from '@jupyterlab/coreutils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { errorMessage } from '../api/request';
import { notifyError, openMain, requiredArg, widgetId } from '../shell';
import { CommandIDs, DatasetCommandIDs } from '../tokens';
import { registerFromJobFlow } from './actions';
import { CompareView } from './compare';
import { modelsIcon } from './icons';
import { ModelsModel } from './model';
import { ModelsPanel } from './panel';
import { setRegisterFromJob } from './register';
import { MODELS_PLUGIN_ID, ModelCommandIDs as IDs } from './tokens';
import { ModelView } from './view';

/**
 * The models plugin.
 */
export const modelsPlugin: JupyterFrontEndPlugin<void> = {
  id: MODELS_PLUGIN_ID,
  description:
    'Training Zoo models: the registry panel, model views with lineage, conversion, evaluation and comparison.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ITranslator,
    ICommandPalette,
    IRenderMimeRegistry
  ],
  activate
};

/**
 * The string items of a command argument (an array, or a comma list).
 */
function stringList(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.filter((v): v is string => typeof v === 'string' && !!v);
  }
  if (typeof value === 'string') {
    return value
      .split(',')
      .map(s => s.trim())
      .filter(Boolean);
  }
  return [];
}

function activate(
  app: JupyterFrontEnd,
  restorer: ILayoutRestorer | null,
  translator: ITranslator | null,
  palette: ICommandPalette | null,
  rendermime: IRenderMimeRegistry | null
): void {
  const { commands, shell, serviceManager } = app;
  const settings = serviceManager.serverSettings;
  translator = translator ?? nullTranslator;
  const trans = translator.load('training-zoo');
  const model = new ModelsModel(settings);

  const openModel = (id: string, version?: number | null) =>
    void commands.execute(IDs.open, version ? { id, version } : { id });
  const openJob = (id: string) =>
    void commands.execute(CommandIDs.openJob, { id });
  const openDataset = (id: string) => {
    if (commands.hasCommand(DatasetCommandIDs.open)) {
      void commands.execute(DatasetCommandIDs.open, { id });
    }
  };

  const panel = new ModelsPanel({
    model,
    translator,
    user: PageConfig.getOption('hubUser'),
    onOpen: id => openModel(id)
  });
  shell.add(panel, 'left', { rank: 480 });
  restorer?.add(panel, 'tz-models-panel');

  const tracker = new WidgetTracker<MainAreaWidget<ModelView>>({
    namespace: 'tz-model'
  });
  const compareTracker = new WidgetTracker<MainAreaWidget<CompareView>>({
    namespace: 'tz-model-compare'
  });
  if (restorer) {
    void restorer.restore(tracker, {
      command: IDs.open,
      args: widget => ({ id: widget.content.modelId }),
      name: widget => widget.content.modelId
    });
    void restorer.restore(compareTracker, {
      command: IDs.compare,
      args: widget => ({
        versions: [...widget.content.versions],
        ...(widget.content.datasetRef
          ? { dataset: widget.content.datasetRef }
          : {})
      }),
      name: widget => widget.content.versions.join(',')
    });
  }

  const register = async (job: string, jobName: string) => {
    try {
      const version = await registerFromJobFlow(job, jobName, settings, trans);
      if (version) {
        Notification.success(trans.__('Registered %1', version.ref), {
          autoClose: 3000
        });
        void model.refresh();
        openModel(version.model_id, version.version);
      }
    } catch (error) {
      notifyError(errorMessage(error));
    }
  };
  setRegisterFromJob((job, name) => void register(job, name));

  commands.addCommand(IDs.openPanel, {
    label: trans.__('Show Models'),
    icon: args => (args.isPalette ? undefined : modelsIcon),
    execute: () => shell.activateById(panel.id)
  });

  commands.addCommand(IDs.open, {
    label: trans.__('Open Model'),
    icon: args => (args.isPalette ? undefined : modelsIcon),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          id: { type: 'string', description: trans.__('The model id') },
          version: {
            type: 'number',
            description: trans.__('The version to select')
          }
        },
        required: ['id']
      }
    },
    execute: args => {
      const id = requiredArg(args, 'id', IDs.open);
      const version =
        typeof args.version === 'number' && Number.isInteger(args.version)
          ? args.version
          : null;
      const existing = tracker.find(w => w.content.modelId === id);
      if (existing) {
        shell.activateById(existing.id);
        if (version !== null) {
          existing.content.selectVersion(version);
        }
        return existing;
      }
      const content = new ModelView({
        modelId: id,
        version,
        settings,
        trans,
        rendermime,
        onError: notifyError,
        onOpenJob: openJob,
        onOpenDataset: openDataset,
        onOpenModel: openModel,
        onCompare: versions => void commands.execute(IDs.compare, { versions }),
        onChanged: () => void model.refresh(),
        onDeleted: () => {
          void model.refresh();
          tracker.find(w => w.content.modelId === id)?.dispose();
        }
      });
      return openMain(shell, content, {
        id: widgetId('tz-model', id),
        icon: modelsIcon,
        tracker
      });
    }
  });

  commands.addCommand(IDs.compare, {
    label: trans.__('Compare Model Versions'),
    icon: args => (args.isPalette ? undefined : modelsIcon),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          versions: {
            type: 'array',
            items: { type: 'string' },
            description: trans.__('Versions as mdl-id:N, the baseline first')
          },
          dataset: {
            type: 'string',
            description: trans.__('Compare the evaluations on this dataset')
          }
        },
        required: ['versions']
      }
    },
    execute: args => {
      const versions = stringList(args.versions);
      if (versions.length === 0) {
        throw new Error(`${IDs.compare} needs a "versions" argument`);
      }
      const dataset = typeof args.dataset === 'string' ? args.dataset : null;
      const key = versions.join(',') + (dataset ? `@${dataset}` : '');
      const existing = compareTracker.find(
        w =>
          w.content.versions.join(',') +
            (w.content.datasetRef ? `@${w.content.datasetRef}` : '') ===
          key
      );
      if (existing) {
        shell.activateById(existing.id);
        return existing;
      }
      const content = new CompareView({
        versions,
        dataset,
        settings,
        trans,
        onError: notifyError,
        onOpenModel: (id, version) => openModel(id, version)
      });
      return openMain(shell, content, {
        id: widgetId('tz-model-compare', key),
        icon: modelsIcon,
        tracker: compareTracker
      });
    }
  });

  commands.addCommand(IDs.registerFromJob, {
    label: trans.__('Register Model from Job…'),
    icon: args => (args.isPalette ? undefined : modelsIcon),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          job: { type: 'string', description: trans.__('The job id') },
          name: { type: 'string', description: trans.__('The job name') }
        },
        required: ['job']
      }
    },
    execute: args => {
      const job = requiredArg(args, 'job', IDs.registerFromJob);
      return register(job, typeof args.name === 'string' ? args.name : job);
    }
  });

  if (palette) {
    const category = trans.__('Training Zoo');
    palette.addItem({ command: IDs.openPanel, category });
  }
}
