/**
 * What the sidebar panels share: their title and heading, the Refresh button
 * and the React sections of their body.
 */
import { ReactWidget, ToolbarButton } from '@jupyterlab/apputils';
import { LabIcon, refreshIcon, SidePanel } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

/**
 * Who a sidebar panel is.
 */
export interface ISidePanelIdentity {
  id: string;
  className: string;
  icon: LabIcon;
  /** The caption of its tab and the heading of the panel. */
  title: string;
}

/**
 * Give a sidebar panel its id, class, tab icon and caption, and its heading.
 */
export function identifySidePanel(
  panel: SidePanel,
  identity: ISidePanelIdentity
): void {
  panel.id = identity.id;
  panel.addClass(identity.className);
  panel.title.icon = identity.icon;
  panel.title.caption = identity.title;
  const heading = document.createElement('h2');
  heading.textContent = identity.title;
  panel.header.addWidget(new Widget({ node: heading }));
}

/**
 * The Refresh button of a panel's toolbar (`.jp-tz-RefreshButton`).
 */
export function refreshButton(
  tooltip: string,
  onClick: () => void
): ToolbarButton {
  return new ToolbarButton({
    icon: refreshIcon,
    className: 'jp-tz-RefreshButton',
    tooltip,
    onClick
  });
}

/**
 * Add a React section (a collapsible part with a label) to a panel's body.
 *
 * @returns the section.
 */
export function addSection(
  panel: SidePanel,
  body: JSX.Element,
  className: string,
  label: string
): ReactWidget {
  const section = ReactWidget.create(body);
  section.addClass(className);
  section.title.label = label;
  panel.addWidget(section);
  return section;
}
