/**
 * Accessibility helpers shared by the components.
 */
import type { KeyboardEvent } from 'react';

/**
 * The properties that make an element that is not a `<button>` (a list row,
 * an SVG group) act as one: focusable, `role=button`, and activated by a
 * click, Enter or Space.
 *
 * @param activate - what the element does.
 */
export function buttonProps(activate: () => void): {
  role: 'button';
  tabIndex: number;
  onClick: () => void;
  onKeyDown: (event: KeyboardEvent<Element>) => void;
} {
  return {
    role: 'button',
    tabIndex: 0,
    onClick: activate,
    onKeyDown: event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        activate();
      }
    }
  };
}
