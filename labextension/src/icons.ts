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
