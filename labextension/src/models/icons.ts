/**
 * The icon of the Models panel and the model views.
 */
import { LabIcon } from '@jupyterlab/ui-components';

// A cube (a packaged model) with a version tick; `jp-icon3` follows the theme
// like JupyterLab's own sidebar icons.
const MODELS_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M11 2.6a2 2 0 0 1 2 0l6.5 3.75L12 10.7 4.5 6.35z"/>
    <path d="M3.75 7.65 11.25 12v8.9l-6.5-3.75a2 2 0 0 1-1-1.73z" opacity="0.7"/>
    <path d="M20.25 7.65v4.1a6 6 0 0 0-7.5 5.8c0 1.3.4 2.5 1.1 3.5l-1.1.6V12z" opacity="0.45"/>
    <path d="M18.5 13.5a4 4 0 1 1 0 8 4 4 0 0 1 0-8zm1.6 2.2-2.2 2.4-1-1-.8.8 1.8 1.8 3-3.2z"/>
  </g>
</svg>`;

/**
 * The icon of the Models panel and the model views.
 */
export const modelsIcon = new LabIcon({
  name: 'training-zoo:models',
  svgstr: MODELS_SVG
});
