import * as React from 'react';

import { computeWindow, shouldFetchMore } from '../workspace/virtual';

/**
 * Properties of `VirtualList`.
 */
export interface IVirtualListProps<T> {
  items: ReadonlyArray<T>;
  /** The fixed height of a row, in px. */
  rowHeight: number;
  /** Render one row (it is placed in a box of `rowHeight`). */
  renderRow: (item: T, index: number) => React.ReactNode;
  /** A stable key of a row. */
  rowKey: (item: T, index: number) => string;
  /** Whether more rows can be fetched. */
  hasMore?: boolean;
  /** Fetch the next page (called when the window nears the loaded end). */
  onNeedMore?: () => void;
  className?: string;
  /** Inline style of the scroller (e.g. a height). */
  style?: React.CSSProperties;
  /** Shown after the last row (e.g. "Loading…"). */
  footer?: React.ReactNode;
  /** Shown when there are no rows. */
  empty?: React.ReactNode;
  /** The list's accessible name. */
  label?: string;
  /** Extra rows rendered above and below the viewport. */
  overscan?: number;
}

/**
 * A windowed list: only the rows in (and around) the viewport are in the DOM,
 * absolutely placed in a spacer as tall as all the rows. Scrolling only moves
 * the window, so 100,000 rows cost the same as 40.
 */
export function VirtualList<T>(props: IVirtualListProps<T>): JSX.Element {
  const { items, rowHeight, hasMore = false, onNeedMore } = props;
  const scroller = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [viewport, setViewport] = React.useState(400);
  const frame = React.useRef<number | null>(null);

  React.useEffect(() => {
    const node = scroller.current;
    if (!node) {
      return;
    }
    setViewport(node.clientHeight);
    const observer = new ResizeObserver(() => setViewport(node.clientHeight));
    observer.observe(node);
    return () => observer.disconnect();
  }, []);

  const onScroll = React.useCallback(() => {
    if (frame.current !== null) {
      return;
    }
    frame.current = window.requestAnimationFrame(() => {
      frame.current = null;
      if (scroller.current) {
        setScrollTop(scroller.current.scrollTop);
      }
    });
  }, []);

  React.useEffect(
    () => () => {
      if (frame.current !== null) {
        window.cancelAnimationFrame(frame.current);
      }
    },
    []
  );

  const win = computeWindow(
    scrollTop,
    viewport,
    rowHeight,
    items.length,
    props.overscan ?? 6
  );

  React.useEffect(() => {
    if (onNeedMore && shouldFetchMore(win, items.length, hasMore)) {
      onNeedMore();
    }
  }, [win.end, items.length, hasMore, onNeedMore]);

  const rows: React.ReactNode[] = [];
  for (let i = win.start; i < win.end; i++) {
    const item = items[i];
    rows.push(
      <div
        key={props.rowKey(item, i)}
        className="jp-tz-VirtualList-row"
        role="listitem"
        style={{ height: rowHeight }}
      >
        {props.renderRow(item, i)}
      </div>
    );
  }

  return (
    <div
      ref={scroller}
      className={`jp-tz-VirtualList ${props.className ?? ''}`}
      style={props.style}
      onScroll={onScroll}
      data-count={items.length}
      data-rendered={win.end - win.start}
    >
      {items.length === 0 && props.empty}
      <div
        className="jp-tz-VirtualList-spacer"
        style={{ height: win.height }}
        role="list"
        aria-label={props.label}
      >
        <div
          className="jp-tz-VirtualList-window"
          style={{ transform: `translateY(${win.offset}px)` }}
        >
          {rows}
        </div>
      </div>
      {props.footer}
    </div>
  );
}
