import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { buttonProps } from '../../a11y';
import { ILineage, ILineageNode } from '../../api/models';
import {
  edgePath,
  ellipsizeMiddle,
  layoutLineage,
  NODE_HEIGHT,
  NODE_WIDTH,
  nodeText
} from '../lineage';

/**
 * Properties of `LineageGraph`.
 */
export interface ILineageGraphProps {
  lineage: ILineage;
  /** The version node drawn as the current one (`owner/name:N`). */
  current: string | null;
  trans: TranslationBundle;
  /** A node was clicked (or activated with Enter). */
  onActivate: (node: ILineageNode) => void;
  /** The job on a `converted` edge was clicked. */
  onOpenJob: (id: string) => void;
}

const KIND_LABELS: Record<string, string> = {
  dataset: 'dataset',
  job: 'job',
  version: 'version',
  evaluation: 'evaluation'
};

/**
 * The lineage of a version as an SVG graph (`.jp-tz-LineageGraph`): columns
 * dataset version → job → model version → converted versions → evaluations,
 * edges as arrows, every node (`.jp-tz-LineageNode[data-kind]`) a link.
 * Labels are SVG text, never markup.
 */
export function LineageGraph(props: ILineageGraphProps): JSX.Element {
  const { lineage, current, trans, onActivate, onOpenJob } = props;
  const layout = React.useMemo(() => layoutLineage(lineage), [lineage]);
  const markerId = React.useMemo(
    () => `tz-lineage-arrow-${Math.random().toString(36).slice(2, 10)}`,
    []
  );
  if (layout.nodes.length === 0) {
    return (
      <div className="jp-tz-LineageGraph jp-mod-empty">
        <div className="jp-tz-Empty">{trans.__('No lineage recorded.')}</div>
      </div>
    );
  }
  const kindLabel = (kind: string) => trans.__(KIND_LABELS[kind] ?? kind);
  return (
    <div className="jp-tz-LineageGraph">
      <svg
        className="jp-tz-LineageGraph-svg"
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        style={{ minWidth: Math.min(720, layout.width) }}
        role="img"
        aria-label={trans.__('Lineage graph')}
      >
        <defs>
          <marker
            id={markerId}
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M0,0 L10,5 L0,10 z" className="jp-tz-LineageArrow" />
          </marker>
        </defs>
        <g className="jp-tz-LineageEdges">
          {layout.edges.map((e, i) => (
            <path
              key={`${e.edge.from}-${e.edge.to}-${i}`}
              className={`jp-tz-LineageEdge jp-tz-LineageEdge-${e.edge.kind}`}
              data-kind={e.edge.kind}
              d={edgePath(e)}
              markerEnd={`url(#${markerId})`}
            >
              <title>{e.edge.kind.replace(/_/g, ' ')}</title>
            </path>
          ))}
        </g>
        <g className="jp-tz-LineageEdgeJobs">
          {layout.edges
            .filter(e => e.edge.job)
            .map((e, i) => {
              const job = e.edge.job!;
              return (
                <g
                  key={`${job}-${i}`}
                  className="jp-tz-LineageEdgeJob"
                  data-job-id={job}
                  transform={`translate(${(e.x1 + e.x2) / 2},${(e.y1 + e.y2) / 2})`}
                  {...buttonProps(() => onOpenJob(job))}
                  aria-label={trans.__('job %1', job)}
                >
                  <title>
                    {trans.__(
                      '%1 by job %2',
                      e.edge.kind.replace(/_/g, ' '),
                      job
                    )}
                  </title>
                  <circle r={6} />
                </g>
              );
            })}
        </g>
        <g className="jp-tz-LineageNodes">
          {layout.nodes.map(({ node, x, y }) => {
            const isCurrent =
              node.kind === 'version' &&
              current !== null &&
              node.ref === current;
            const state =
              node.kind === 'version'
                ? node.stage && node.stage !== 'none'
                  ? node.stage
                  : ''
                : (node.status ?? '');
            const status = state ? ` · ${state}` : '';
            return (
              <g
                key={node.id}
                className={`jp-tz-LineageNode jp-tz-LineageNode-${node.kind}${isCurrent ? ' jp-mod-current' : ''}`}
                data-kind={node.kind}
                data-ref={node.ref}
                data-node-id={node.id}
                data-state={state || undefined}
                transform={`translate(${x},${y})`}
                {...buttonProps(() => onActivate(node))}
                aria-label={`${kindLabel(node.kind)} ${node.label}`}
              >
                <title>{`${kindLabel(node.kind)}: ${node.label}\n${node.ref}${status}`}</title>
                <rect
                  className="jp-tz-LineageNode-box"
                  width={NODE_WIDTH}
                  height={NODE_HEIGHT}
                  rx={5}
                />
                <text className="jp-tz-LineageNode-kind" x={8} y={14}>
                  {kindLabel(node.kind)}
                  {status}
                </text>
                <text className="jp-tz-LineageNode-label" x={8} y={30}>
                  {ellipsizeMiddle(nodeText(node), 22)}
                </text>
              </g>
            );
          })}
        </g>
      </svg>
    </div>
  );
}
