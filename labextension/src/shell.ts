/**
 * What the domain plugins share: the error notification, command arguments,
 * and opening their main-area views.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

/**
 * Show an error to the user (a notification that closes after 8 s).
 */
export function notifyError(message: string): void {
  Notification.error(message, { autoClose: 8000 });
}

/**
 * A widget id from free text: `<prefix>-<text>`, other characters than
 * letters, digits, `_`, `.` and `-` becoming `_`.
 */
export function widgetId(prefix: string, text: string): string {
  return `${prefix}-${text.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/**
 * A string argument a command cannot run without.
 *
 * @param args - the command's arguments.
 * @param name - the argument.
 * @param command - the command id (for the error).
 * @throws {Error} when the argument is missing, empty or not a string.
 */
export function requiredArg(
  args: ReadonlyPartialJSONObject,
  name: string,
  command: string
): string {
  const value = args[name];
  if (typeof value !== 'string' || !value) {
    const article = /^[aeiou]/.test(name) ? 'an' : 'a';
    throw new Error(`${command} needs ${article} "${name}" argument`);
  }
  return value;
}

/**
 * Options of `openMain`.
 */
export interface IOpenMainOptions<T extends Widget> {
  icon: LabIcon;
  /** The widget id (Lumino makes one when absent). */
  id?: string;
  /** The tab's label and caption (the content's title by default). */
  label?: string;
  caption?: string;
  /** Tracks the view (for restoring the layout and finding it again). */
  tracker?: WidgetTracker<MainAreaWidget<T>>;
}

/**
 * Put `content` in a closable main-area tab and activate it.
 *
 * @returns the tab.
 */
export function openMain<T extends Widget>(
  shell: JupyterFrontEnd.IShell,
  content: T,
  options: IOpenMainOptions<T>
): MainAreaWidget<T> {
  const widget = new MainAreaWidget({ content });
  if (options.id) {
    widget.id = options.id;
  }
  if (options.label !== undefined) {
    widget.title.label = options.label;
  }
  if (options.caption !== undefined) {
    widget.title.caption = options.caption;
  }
  widget.title.icon = options.icon;
  widget.title.closable = true;
  if (options.tracker) {
    void options.tracker.add(widget);
  }
  shell.add(widget, 'main');
  shell.activateById(widget.id);
  return widget;
}
