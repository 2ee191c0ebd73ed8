/**
 * The plugin id and command ids of the models plugin.
 */

/**
 * The id of the models plugin.
 */
export const MODELS_PLUGIN_ID = 'training-zoo:models';

/**
 * Command ids of the models plugin.
 */
export enum ModelCommandIDs {
  /** Show the Models sidebar panel. */
  openPanel = 'tz-models:open-panel',
  /** Open the view of a model; args `{ id: string, version?: number }`. */
  open = 'tz-models:open',
  /**
   * Open the comparison of versions; args `{ versions: string[] }` (each
   * `mdl-id:N`), optional `{ dataset: string }`.
   */
  compare = 'training-zoo:models-compare',
  /**
   * Register the model a job wrote; args `{ job: string, name?: string }`
   * (asks for the name and the folder, then opens the model view).
   */
  registerFromJob = 'tz-models:register-from-job'
}
