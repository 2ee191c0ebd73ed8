/**
 * The Training Zoo labextension: one plugin per domain.
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { datasetsPlugin } from './datasets/plugin';
import { jobsPlugin } from './jobs/plugin';
import { workspacePlugin } from './workspace/plugin';

export * from './tokens';

const plugins: JupyterFrontEndPlugin<any>[] = [
  jobsPlugin,
  workspacePlugin,
  datasetsPlugin
];

export default plugins;
