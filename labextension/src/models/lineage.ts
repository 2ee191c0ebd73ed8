/**
 * Pure layout of a version's lineage graph: nodes into columns (dataset
 * version → job → model version → converted versions → evaluations), rows
 * ordered to keep edges short, coordinates for the SVG. No DOM (unit-tested).
 */
import type { ILineage, ILineageEdge, ILineageNode } from '../api/models';

/**
 * The width of a node box, in SVG units.
 */
export const NODE_WIDTH = 156;

/**
 * The height of a node box.
 */
export const NODE_HEIGHT = 38;

/**
 * The horizontal gap between columns (where the edges run).
 */
export const COLUMN_GAP = 36;

/**
 * The vertical gap between the nodes of a column.
 */
export const ROW_GAP = 14;

/**
 * The margin around the drawing.
 */
export const PADDING = 8;

/**
 * A placed node.
 */
export interface ILayoutNode {
  node: ILineageNode;
  /** The column, 0 = leftmost used column. */
  column: number;
  /** The row within its column, 0 = top. */
  row: number;
  /** The top-left corner of the node box. */
  x: number;
  y: number;
}

/**
 * A placed edge, from the right middle of its source to the left middle of
 * its target.
 */
export interface ILayoutEdge {
  edge: ILineageEdge;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * The laid out graph.
 */
export interface ILineageLayout {
  nodes: ILayoutNode[];
  edges: ILayoutEdge[];
  /** The number of (non-empty) columns. */
  columns: number;
  width: number;
  height: number;
}

/**
 * The column of each node before empty columns are removed: datasets 0,
 * versions 2 + their depth in the chain of `converted` edges, a job just
 * before the first version it produced (a training job in 1, a conversion job
 * under the version it converted), evaluations one after the deepest version,
 * other kinds after the evaluations.
 *
 * @param graph - the lineage graph.
 * @returns node id → raw column.
 */
export function rawColumns(graph: ILineage): Map<string, number> {
  const kinds = new Map(graph.nodes.map(n => [n.id, n.kind]));
  const depth = new Map<string, number>();
  for (const node of graph.nodes) {
    if (node.kind === 'version') {
      depth.set(node.id, 0);
    }
  }
  const converted = graph.edges.filter(
    e =>
      e.kind === 'converted' &&
      kinds.get(e.from) === 'version' &&
      kinds.get(e.to) === 'version' &&
      e.from !== e.to
  );
  // Longest path by relaxation; at most n rounds, so a cycle cannot loop.
  for (let round = 0; round < graph.nodes.length; round++) {
    let changed = false;
    for (const e of converted) {
      const next = (depth.get(e.from) ?? 0) + 1;
      if (next > (depth.get(e.to) ?? 0) && next <= graph.nodes.length) {
        depth.set(e.to, next);
        changed = true;
      }
    }
    if (!changed) {
      break;
    }
  }
  let lastVersion = 2;
  for (const d of depth.values()) {
    lastVersion = Math.max(lastVersion, 2 + d);
  }
  const produced = new Map<string, number>();
  for (const e of graph.edges) {
    if (kinds.get(e.from) === 'job' && kinds.get(e.to) === 'version') {
      const column = 2 + (depth.get(e.to) ?? 0) - 1;
      produced.set(e.from, Math.min(produced.get(e.from) ?? column, column));
    }
  }
  const columns = new Map<string, number>();
  for (const node of graph.nodes) {
    switch (node.kind) {
      case 'dataset':
        columns.set(node.id, 0);
        break;
      case 'job':
        columns.set(node.id, produced.get(node.id) ?? 1);
        break;
      case 'version':
        columns.set(node.id, 2 + (depth.get(node.id) ?? 0));
        break;
      case 'evaluation':
        columns.set(node.id, lastVersion + 1);
        break;
      default:
        columns.set(node.id, lastVersion + 2);
    }
  }
  return columns;
}

/**
 * Lay out a lineage graph into columns.
 *
 * Empty columns are removed (a model registered from a notebook has no
 * dataset or job column). The first column keeps the service's order; the
 * others are sorted by the mean row of their predecessors, so that edges
 * mostly run straight. Edges to unknown nodes and duplicate node ids are
 * dropped.
 *
 * @param graph - the lineage graph.
 * @returns the placed nodes and edges and the drawing size.
 */
export function layoutLineage(graph: ILineage): ILineageLayout {
  const seen = new Set<string>();
  const nodes = graph.nodes.filter(n => {
    if (seen.has(n.id)) {
      return false;
    }
    seen.add(n.id);
    return true;
  });
  const edges = graph.edges.filter(e => seen.has(e.from) && seen.has(e.to));
  const raw = rawColumns({ nodes, edges });
  const used = [...new Set(raw.values())].sort((a, b) => a - b);
  const compact = new Map(used.map((c, i) => [c, i]));
  const columnOf = new Map<string, number>();
  for (const [id, c] of raw) {
    columnOf.set(id, compact.get(c)!);
  }
  const order = new Map(nodes.map((n, i) => [n.id, i]));
  const predecessors = new Map<string, string[]>();
  for (const e of edges) {
    const list = predecessors.get(e.to) ?? [];
    list.push(e.from);
    predecessors.set(e.to, list);
  }

  const rowOf = new Map<string, number>();
  const byColumn: ILineageNode[][] = used.map(() => []);
  for (const n of nodes) {
    byColumn[columnOf.get(n.id)!].push(n);
  }
  byColumn.forEach((column, index) => {
    if (index > 0) {
      const key = (n: ILineageNode): number => {
        const rows = (predecessors.get(n.id) ?? [])
          .filter(p => (columnOf.get(p) ?? index) < index)
          .map(p => rowOf.get(p))
          .filter((r): r is number => r !== undefined);
        return rows.length > 0
          ? rows.reduce((a, b) => a + b, 0) / rows.length
          : Number.POSITIVE_INFINITY;
      };
      const keys = new Map(column.map(n => [n.id, key(n)]));
      column.sort((a, b) => {
        const ka = keys.get(a.id)!;
        const kb = keys.get(b.id)!;
        if (ka !== kb) {
          return ka < kb ? -1 : 1;
        }
        return order.get(a.id)! - order.get(b.id)!;
      });
    }
    column.forEach((n, row) => rowOf.set(n.id, row));
  });

  const tallest = Math.max(0, ...byColumn.map(c => c.length));
  const pitch = NODE_HEIGHT + ROW_GAP;
  const placed = new Map<string, ILayoutNode>();
  const layoutNodes: ILayoutNode[] = [];
  byColumn.forEach((column, index) => {
    const offset = ((tallest - column.length) * pitch) / 2;
    column.forEach((node, row) => {
      const item: ILayoutNode = {
        node,
        column: index,
        row,
        x: PADDING + index * (NODE_WIDTH + COLUMN_GAP),
        y: PADDING + offset + row * pitch
      };
      placed.set(node.id, item);
      layoutNodes.push(item);
    });
  });
  const layoutEdges: ILayoutEdge[] = edges.map(edge => {
    const a = placed.get(edge.from)!;
    const b = placed.get(edge.to)!;
    return {
      edge,
      x1: a.x + NODE_WIDTH,
      y1: a.y + NODE_HEIGHT / 2,
      x2: b.x,
      y2: b.y + NODE_HEIGHT / 2
    };
  });
  const columns = used.length;
  return {
    nodes: layoutNodes,
    edges: layoutEdges,
    columns,
    width:
      columns === 0
        ? 0
        : 2 * PADDING + columns * NODE_WIDTH + (columns - 1) * COLUMN_GAP,
    height: tallest === 0 ? 0 : 2 * PADDING + tallest * pitch - ROW_GAP
  };
}

/**
 * The SVG path of an edge: a horizontal S curve.
 *
 * @param edge - the placed edge.
 * @returns the `d` attribute.
 */
export function edgePath(edge: ILayoutEdge): string {
  const { x1, y1, x2, y2 } = edge;
  const mid = (x1 + x2) / 2;
  const r = (v: number) => Math.round(v * 10) / 10;
  return `M${r(x1)},${r(y1)} C${r(mid)},${r(y1)} ${r(mid)},${r(y2)} ${r(x2)},${r(y2)}`;
}

/**
 * Shorten a label to at most `max` characters with an ellipsis.
 *
 * @param label - the label.
 * @param max - the most characters to keep (at least 2).
 * @returns the label or its shortened form.
 */
export function ellipsize(label: string, max: number): string {
  const chars = Array.from(label ?? '');
  if (chars.length <= max) {
    return chars.join('');
  }
  return chars.slice(0, Math.max(1, max - 1)).join('') + '…';
}

/**
 * Shorten a label to at most `max` characters by cutting its middle, so that
 * both ends stay (`convert-shapes-cnn-v1-onnx` → `convert-sh…-v1-onnx`).
 *
 * @param label - the label.
 * @param max - the most characters to keep (at least 3).
 * @returns the label or its shortened form.
 */
export function ellipsizeMiddle(label: string, max: number): string {
  const chars = Array.from(label ?? '');
  if (chars.length <= max) {
    return chars.join('');
  }
  const keep = Math.max(2, max) - 1;
  const head = Math.ceil(keep / 2);
  const tail = keep - head;
  return (
    chars.slice(0, head).join('') +
    '…' +
    (tail > 0 ? chars.slice(chars.length - tail).join('') : '')
  );
}

/**
 * The text drawn in a node: a version's `name:N (format)` becomes
 * `vN · format` (the model is the view's own), other labels stay.
 *
 * @param node - the node.
 * @returns the label to draw (before shortening).
 */
export function nodeText(node: {
  kind: string;
  label: string;
  ref: string;
  version?: number;
}): string {
  if (node.kind === 'version') {
    const m = /^.*:(\d+) \((.+)\)$/.exec(node.label ?? '');
    if (m) {
      return `v${m[1]} · ${m[2]}`;
    }
  }
  return node.label || node.ref;
}
