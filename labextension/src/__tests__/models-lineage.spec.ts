import type { ILineage } from '../api/models';
import {
  COLUMN_GAP,
  edgePath,
  ellipsize,
  ellipsizeMiddle,
  layoutLineage,
  NODE_HEIGHT,
  NODE_WIDTH,
  nodeText,
  PADDING,
  rawColumns,
  ROW_GAP
} from '../models/lineage';

const node = (id: string, kind: string, label = id) => ({
  id,
  kind,
  label,
  ref: id
});
const edge = (from: string, to: string, kind: string) => ({ from, to, kind });

// dataset → job → v1 → v2 (onnx) → v3 (int8); evaluations of v1 and v3.
const full: ILineage = {
  nodes: [
    node('e3', 'evaluation'),
    node('v3', 'version'),
    node('d1', 'dataset'),
    node('v2', 'version'),
    node('j1', 'job'),
    node('v1', 'version'),
    node('e1', 'evaluation'),
    node('d2', 'dataset')
  ],
  edges: [
    edge('d1', 'j1', 'trained_on'),
    edge('j1', 'v1', 'produced'),
    edge('v1', 'v2', 'converted'),
    edge('v2', 'v3', 'converted'),
    edge('v1', 'e1', 'evaluated'),
    edge('v3', 'e3', 'evaluated'),
    edge('d2', 'e1', 'evaluated_on'),
    edge('d2', 'e3', 'evaluated_on')
  ]
};

const columnsOf = (graph: ILineage) =>
  Object.fromEntries(
    layoutLineage(graph).nodes.map(n => [n.node.id, n.column])
  );

describe('rawColumns', () => {
  it('puts datasets, jobs, versions by conversion depth, then evaluations', () => {
    const raw = rawColumns(full);
    expect(Object.fromEntries(raw)).toEqual({
      d1: 0,
      d2: 0,
      j1: 1,
      v1: 2,
      v2: 3,
      v3: 4,
      e1: 5,
      e3: 5
    });
  });

  it('puts a conversion job under the version it converted', () => {
    const raw = rawColumns({
      nodes: [
        node('d', 'dataset'),
        node('train', 'job'),
        node('v1', 'version'),
        node('conv1', 'job'),
        node('v2', 'version'),
        node('conv2', 'job'),
        node('v3', 'version'),
        node('lonely', 'job')
      ],
      edges: [
        edge('d', 'train', 'trained_on'),
        edge('train', 'v1', 'produced'),
        edge('v1', 'v2', 'converted'),
        edge('conv1', 'v2', 'produced'),
        edge('v2', 'v3', 'converted'),
        edge('conv2', 'v3', 'produced')
      ]
    });
    expect(Object.fromEntries(raw)).toEqual({
      d: 0,
      train: 1,
      v1: 2,
      conv1: 2,
      v2: 3,
      conv2: 3,
      v3: 4,
      lonely: 1
    });
  });

  it('survives a conversion cycle', () => {
    const raw = rawColumns({
      nodes: [node('a', 'version'), node('b', 'version')],
      edges: [edge('a', 'b', 'converted'), edge('b', 'a', 'converted')]
    });
    expect(raw.get('a')).toBeLessThanOrEqual(2 + 2);
    expect(raw.get('b')).toBeLessThanOrEqual(2 + 2);
  });

  it('puts unknown kinds after the evaluations', () => {
    const raw = rawColumns({
      nodes: [node('v', 'version'), node('x', 'image')],
      edges: []
    });
    expect(raw.get('x')).toBe(4);
  });
});

describe('layoutLineage', () => {
  it('lays the chain out in six columns', () => {
    const layout = layoutLineage(full);
    expect(layout.columns).toBe(6);
    expect(columnsOf(full)).toEqual({
      d1: 0,
      d2: 0,
      j1: 1,
      v1: 2,
      v2: 3,
      v3: 4,
      e1: 5,
      e3: 5
    });
    expect(layout.width).toBe(2 * PADDING + 6 * NODE_WIDTH + 5 * COLUMN_GAP);
    expect(layout.height).toBe(
      2 * PADDING + 2 * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    );
  });

  it('drops empty columns (a notebook registration has no dataset or job)', () => {
    const graph: ILineage = {
      nodes: [node('v1', 'version'), node('e1', 'evaluation')],
      edges: [edge('v1', 'e1', 'evaluated')]
    };
    expect(columnsOf(graph)).toEqual({ v1: 0, e1: 1 });
    const layout = layoutLineage(graph);
    expect(layout.nodes.find(n => n.node.id === 'v1')!.x).toBe(PADDING);
  });

  it('orders a column by the rows of its predecessors', () => {
    const graph: ILineage = {
      nodes: [
        node('d1', 'dataset'),
        node('d2', 'dataset'),
        node('j2', 'job'),
        node('j1', 'job')
      ],
      edges: [edge('d1', 'j1', 'trained_on'), edge('d2', 'j2', 'trained_on')]
    };
    const rows = Object.fromEntries(
      layoutLineage(graph).nodes.map(n => [n.node.id, n.row])
    );
    expect(rows).toEqual({ d1: 0, d2: 1, j1: 0, j2: 1 });
  });

  it('centres shorter columns vertically', () => {
    const layout = layoutLineage(full);
    const j1 = layout.nodes.find(n => n.node.id === 'j1')!;
    expect(j1.y).toBe(PADDING + (NODE_HEIGHT + ROW_GAP) / 2);
  });

  it('draws edges from right middle to left middle and drops dangling ones', () => {
    const graph: ILineage = {
      nodes: [node('j', 'job'), node('v', 'version'), node('v', 'version')],
      edges: [edge('j', 'v', 'produced'), edge('ghost', 'v', 'produced')]
    };
    const layout = layoutLineage(graph);
    expect(layout.nodes).toHaveLength(2);
    expect(layout.edges).toHaveLength(1);
    const [e] = layout.edges;
    expect(e.x1).toBe(PADDING + NODE_WIDTH);
    expect(e.x2).toBe(PADDING + NODE_WIDTH + COLUMN_GAP);
    expect(e.y1).toBe(e.y2);
    expect(edgePath(e)).toBe(
      `M${e.x1},${e.y1} C${(e.x1 + e.x2) / 2},${e.y1} ${(e.x1 + e.x2) / 2},${e.y2} ${e.x2},${e.y2}`
    );
  });

  it('gives an empty drawing for an empty graph', () => {
    expect(layoutLineage({ nodes: [], edges: [] })).toEqual({
      nodes: [],
      edges: [],
      columns: 0,
      width: 0,
      height: 0
    });
  });
});

describe('nodeText', () => {
  it('shortens version labels to number and format', () => {
    expect(
      nodeText({
        kind: 'version',
        label: 'shapes-cnn:12 (pytorch-state-dict)',
        ref: 'alice/shapes-cnn:12'
      })
    ).toBe('v12 · pytorch-state-dict');
    expect(nodeText({ kind: 'version', label: '', ref: 'a/b:1' })).toBe(
      'a/b:1'
    );
    expect(nodeText({ kind: 'job', label: 'train (x)', ref: 'train-1' })).toBe(
      'train (x)'
    );
  });
});

describe('ellipsizeMiddle', () => {
  it('keeps both ends', () => {
    expect(ellipsizeMiddle('convert-shapes-cnn-v1-onnx', 20)).toBe(
      'convert-sh…n-v1-onnx'
    );
    expect(ellipsizeMiddle('short', 20)).toBe('short');
    expect(Array.from(ellipsizeMiddle('x'.repeat(50), 9))).toHaveLength(9);
  });
});

describe('ellipsize', () => {
  it('keeps short labels and shortens long ones by code point', () => {
    expect(ellipsize('shapes', 10)).toBe('shapes');
    expect(ellipsize('abcdefghij', 5)).toBe('abcd…');
    expect(ellipsize('😀😀😀😀', 3)).toBe('😀😀…');
  });
});
