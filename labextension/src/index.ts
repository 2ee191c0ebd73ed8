/**
 * The Training Zoo labextension: one plugin per domain.
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { jobsPlugin } from './jobs/plugin';
import { workspacePlugin } from './workspace/plugin';

export * from './tokens';

const plugins: JupyterFrontEndPlugin<any>[] = [jobsPlugin, workspacePlugin];

export default plugins;
