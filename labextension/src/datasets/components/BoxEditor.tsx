import * as React from 'react';

import { IBox } from '../../api/datasets';
import {
  boxAt,
  corner,
  Handle,
  handleAt,
  HANDLES,
  isUsable,
  moveRect,
  rectFromDrag,
  resizeRect,
  roundRect
} from '../geometry';

/**
 * Properties of `BoxEditor`.
 */
export interface IBoxEditorProps {
  /** The full image URL (boxes are in its natural pixels). */
  src: string;
  boxes: ReadonlyArray<IBox>;
  selected: number;
  /** The label given to a newly drawn box. */
  drawLabel: string;
  onSelect: (index: number) => void;
  /** Called once per finished gesture (draw, move, resize). */
  onChange: (boxes: IBox[], selected: number) => void;
}

type Drag =
  | { kind: 'draw'; x0: number; y0: number }
  | { kind: 'move'; x0: number; y0: number; index: number; start: IBox }
  | {
      kind: 'resize';
      x0: number;
      y0: number;
      index: number;
      start: IBox;
      handle: Handle;
    };

/**
 * An image with editable boxes: drag on empty space draws a box, drag a box
 * moves it, drag a corner handle resizes it. Geometry is in image pixels
 * (see `geometry.ts`); the SVG's viewBox maps them onto the shown size.
 */
export function BoxEditor(props: IBoxEditorProps): JSX.Element {
  const { boxes, selected } = props;
  const svg = React.useRef<SVGSVGElement>(null);
  const [size, setSize] = React.useState<[number, number] | null>(null);
  const [drag, setDrag] = React.useState<Drag | null>(null);
  const [draft, setDraft] = React.useState<IBox[] | null>(null);
  const shown = draft ?? boxes;
  const [width, height] = size ?? [1, 1];

  const toImage = (event: React.PointerEvent): [number, number] => {
    const rect = svg.current!.getBoundingClientRect();
    return [
      ((event.clientX - rect.left) * width) / rect.width,
      ((event.clientY - rect.top) * height) / rect.height
    ];
  };
  const tolerance = () => {
    const rect = svg.current?.getBoundingClientRect();
    return rect && rect.width > 0 ? (8 * width) / rect.width : 8;
  };

  const onPointerDown = (event: React.PointerEvent) => {
    if (!size || event.button !== 0) {
      return;
    }
    event.preventDefault();
    (event.target as Element).setPointerCapture?.(event.pointerId);
    const [x, y] = toImage(event);
    const current = boxes[selected];
    const handle = current ? handleAt(current, x, y, tolerance()) : null;
    if (current && handle) {
      setDrag({
        kind: 'resize',
        x0: x,
        y0: y,
        index: selected,
        start: current,
        handle
      });
      return;
    }
    const hit = boxAt(boxes, x, y);
    if (hit >= 0) {
      props.onSelect(hit);
      setDrag({ kind: 'move', x0: x, y0: y, index: hit, start: boxes[hit] });
      return;
    }
    props.onSelect(-1);
    setDrag({ kind: 'draw', x0: x, y0: y });
  };

  const onPointerMove = (event: React.PointerEvent) => {
    if (!drag) {
      return;
    }
    const [x, y] = toImage(event);
    if (drag.kind === 'draw') {
      const rect = rectFromDrag(drag.x0, drag.y0, x, y, width, height);
      setDraft([...boxes, { ...rect, label: props.drawLabel }]);
      return;
    }
    const next = boxes.slice();
    const dx = x - drag.x0;
    const dy = y - drag.y0;
    next[drag.index] =
      drag.kind === 'move'
        ? { ...drag.start, ...moveRect(drag.start, dx, dy, width, height) }
        : {
            ...drag.start,
            ...resizeRect(drag.start, drag.handle, dx, dy, width, height)
          };
    setDraft(next);
  };

  const onPointerUp = () => {
    const finished = draft;
    const gesture = drag;
    setDrag(null);
    setDraft(null);
    if (!finished || !gesture) {
      return;
    }
    if (gesture.kind === 'draw') {
      const box = finished[finished.length - 1];
      if (isUsable(box)) {
        props.onChange([...boxes, roundRect(box)], boxes.length);
      }
      return;
    }
    const next = finished.map((b, i) =>
      i === gesture.index ? roundRect(b) : b
    );
    props.onChange(next, gesture.index);
  };

  return (
    <div className="jp-tz-BoxEditor">
      <img
        src={props.src}
        alt=""
        draggable={false}
        onLoad={event => {
          const img = event.currentTarget;
          setSize([img.naturalWidth, img.naturalHeight]);
        }}
      />
      {size && (
        <svg
          ref={svg}
          className="jp-tz-BoxEditor-svg"
          viewBox={`0 0 ${width} ${height}`}
          preserveAspectRatio="none"
          data-width={width}
          data-height={height}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerUp}
        >
          {shown.map((box, i) => (
            <g
              key={i}
              className={`jp-tz-BoxEditor-box${i === selected ? ' jp-mod-selected' : ''}`}
              data-label={box.label}
              data-index={i}
            >
              <rect
                x={box.x}
                y={box.y}
                width={box.w}
                height={box.h}
                vectorEffect="non-scaling-stroke"
              />
              <text x={box.x + 3} y={box.y + 3} dominantBaseline="hanging">
                {box.label}
              </text>
              {i === selected &&
                HANDLES.map(h => {
                  const [cx, cy] = corner(box, h);
                  const r = tolerance() * 0.6;
                  return (
                    <rect
                      key={h}
                      className="jp-tz-BoxEditor-handle"
                      data-handle={h}
                      x={cx - r}
                      y={cy - r}
                      width={2 * r}
                      height={2 * r}
                      vectorEffect="non-scaling-stroke"
                    />
                  );
                })}
            </g>
          ))}
        </svg>
      )}
    </div>
  );
}
