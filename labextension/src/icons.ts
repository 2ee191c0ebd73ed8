/**
 * Icons of the Training Zoo labextension.
 */
import { LabIcon } from '@jupyterlab/ui-components';

// A stacked "run" glyph: a play triangle over a progress bar. `jp-icon3`
// makes it follow the theme like JupyterLab's own sidebar icons.
const JOBS_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M8 3.5v11l9-5.5z"/>
    <rect x="3" y="17.5" width="18" height="2" rx="1" opacity="0.45"/>
    <rect x="3" y="17.5" width="11" height="2" rx="1"/>
  </g>
</svg>`;

/**
 * The icon of the Jobs panel and the job views.
 */
export const jobsIcon = new LabIcon({
  name: 'training-zoo:jobs',
  svgstr: JOBS_SVG
});

// A folder with an up arrow: the workspace ("network disk").
const WORKSPACE_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 6.5A1.5 1.5 0 0 1 4.5 5h4.6l2 2h8.4A1.5 1.5 0 0 1 21 8.5v9a1.5 1.5 0 0 1-1.5 1.5h-15A1.5 1.5 0 0 1 3 17.5z" opacity="0.45"/>
    <path d="M12 9.5l-4 4h2.75V17h2.5v-3.5H16z"/>
  </g>
</svg>`;

/**
 * The icon of the Workspace panel.
 */
export const workspaceIcon = new LabIcon({
  name: 'training-zoo:workspace',
  svgstr: WORKSPACE_SVG
});

// Three stacked discs with a tag: versioned, labeled data.
const DATASETS_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <ellipse cx="10" cy="5.5" rx="7" ry="2.5"/>
    <path d="M3 9c0 1.4 3.1 2.5 7 2.5s7-1.1 7-2.5v3c0 1.4-3.1 2.5-7 2.5S3 13.4 3 12z" opacity="0.7"/>
    <path d="M3 15.5c0 1.4 3.1 2.5 7 2.5 1 0 1.9-.1 2.7-.2V21c-.8.1-1.7.2-2.7.2-3.9 0-7-1.1-7-2.5z" opacity="0.45"/>
    <path d="M15 14h5.5l1.5 3-1.5 3H15z"/>
  </g>
</svg>`;

/**
 * The icon of the Datasets panel and dataset views.
 */
export const datasetsIcon = new LabIcon({
  name: 'training-zoo:datasets',
  svgstr: DATASETS_SVG
});
