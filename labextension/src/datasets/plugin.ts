/**
 * The `training-zoo:datasets` plugin: the Datasets sidebar panel, the create
 * dialog (also "Create dataset from folder" on workspace folders) and the
 * dataset views.
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
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { errorMessage } from '../api/request';
import { datasetsIcon } from '../icons';
import { notifyError, openMain, requiredArg, widgetId } from '../shell';
import { DATASETS_PLUGIN_ID, DatasetCommandIDs as IDs } from '../tokens';
import { createDatasetFlow, IDatasetSource } from './create';
import { DatasetsModel } from './model';
import { DatasetsPanel } from './panel';
import { DatasetView } from './view';

/**
 * The datasets plugin.
 */
export const datasetsPlugin: JupyterFrontEndPlugin<void> = {
  id: DATASETS_PLUGIN_ID,
  description:
    'Training Zoo datasets: list, create, version, preview and label datasets.',
  autoStart: true,
  optional: [ILayoutRestorer, ITranslator, ICommandPalette],
  activate
};

function activate(
  app: JupyterFrontEnd,
  restorer: ILayoutRestorer | null,
  translator: ITranslator | null,
  palette: ICommandPalette | null
): void {
  const { commands, shell, serviceManager } = app;
  const settings = serviceManager.serverSettings;
  translator = translator ?? nullTranslator;
  const trans = translator.load('training-zoo');
  const model = new DatasetsModel(settings);

  const create = async (source?: IDatasetSource) => {
    try {
      const dataset = await createDatasetFlow(settings, trans, source);
      if (dataset) {
        void model.refresh();
        await commands.execute(IDs.open, { id: dataset.id });
      }
    } catch (error) {
      notifyError(errorMessage(error));
    }
  };

  const panel = new DatasetsPanel({
    model,
    translator,
    user: PageConfig.getOption('hubUser'),
    onCreate: () => void create(),
    onOpen: id => void commands.execute(IDs.open, { id })
  });
  shell.add(panel, 'left', { rank: 460 });
  restorer?.add(panel, 'tz-datasets-panel');

  const tracker = new WidgetTracker<MainAreaWidget<DatasetView>>({
    namespace: 'tz-dataset'
  });
  if (restorer) {
    void restorer.restore(tracker, {
      command: IDs.open,
      args: widget => ({ id: widget.content.datasetId }),
      name: widget => widget.content.datasetId
    });
  }

  commands.addCommand(IDs.openPanel, {
    label: trans.__('Show Datasets'),
    icon: args => (args.isPalette ? undefined : datasetsIcon),
    execute: () => shell.activateById(panel.id)
  });
  commands.addCommand(IDs.create, {
    label: trans.__('New Dataset…'),
    icon: args => (args.isPalette ? undefined : datasetsIcon),
    execute: args =>
      create(
        typeof args.space === 'string' && typeof args.path === 'string'
          ? { space: args.space, path: args.path }
          : undefined
      )
  });
  commands.addCommand(IDs.open, {
    label: trans.__('Open Dataset'),
    icon: args => (args.isPalette ? undefined : datasetsIcon),
    execute: args => {
      const id = requiredArg(args, 'id', IDs.open);
      const existing = tracker.find(w => w.content.datasetId === id);
      if (existing) {
        shell.activateById(existing.id);
        return existing;
      }
      const content = new DatasetView({
        datasetId: id,
        settings,
        trans,
        onError: notifyError,
        onPublished: version => {
          Notification.success(trans.__('Published %1', version.version), {
            autoClose: 3000
          });
          void model.refresh();
        }
      });
      return openMain(shell, content, {
        id: widgetId('tz-dataset', id),
        icon: datasetsIcon,
        tracker
      });
    }
  });

  if (palette) {
    const category = trans.__('Training Zoo');
    palette.addItem({ command: IDs.openPanel, category });
    palette.addItem({ command: IDs.create, category });
  }
}
