import * as React from 'react';

import { IBox } from '../api/datasets';

/**
 * Properties of `BoxOverlay`.
 */
export interface IBoxOverlayProps {
  src: string;
  /** The image's real size (boxes are in these pixels). */
  width: number;
  height: number;
  boxes: ReadonlyArray<IBox>;
  className?: string;
}

/**
 * An image with annotation boxes drawn over it in an SVG whose viewBox is the
 * image's pixel grid, so the boxes follow any display size.
 */
export function BoxOverlay(props: IBoxOverlayProps): JSX.Element {
  const { width, height, boxes } = props;
  const w = width > 0 ? width : 1;
  const h = height > 0 ? height : 1;
  return (
    <div className={`jp-tz-BoxOverlay ${props.className ?? ''}`}>
      <img src={props.src} alt="" draggable={false} />
      {boxes.length > 0 && (
        <svg
          className="jp-tz-BoxOverlay-svg"
          viewBox={`0 0 ${w} ${h}`}
          preserveAspectRatio="none"
        >
          {boxes.map((box, i) => (
            <g key={i} className="jp-tz-BoxOverlay-box" data-label={box.label}>
              <rect
                x={box.x}
                y={box.y}
                width={box.w}
                height={box.h}
                vectorEffect="non-scaling-stroke"
              />
              <text
                x={box.x + 2}
                y={box.y + Math.max(10, h * 0.04)}
                fontSize={Math.max(10, h * 0.04)}
              >
                {box.label}
              </text>
            </g>
          ))}
        </svg>
      )}
    </div>
  );
}
