/**
 * The Training Zoo labextension: one plugin per domain.
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { datasetsPlugin } from './datasets/plugin';
import { jobsPlugin } from './jobs/plugin';
import { modelsPlugin } from './models/plugin';
import { workspacePlugin } from './workspace/plugin';

export * from './tokens';
export { MODELS_PLUGIN_ID, ModelCommandIDs } from './models/tokens';

const plugins: JupyterFrontEndPlugin<any>[] = [
  jobsPlugin,
  workspacePlugin,
  datasetsPlugin,
  modelsPlugin
];

export default plugins;
