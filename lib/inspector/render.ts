/**
 * The inspector's picture: a pure function from a tree snapshot, the nodes,
 * the view state and the time to lines of text. No terminal needed; the
 * watch loop only writes what this returns.
 */
import type { NodeRecord } from '../model/index.js';
import type { ChildStatus, TreeNode } from '../supervision/index.js';
import { paint, truncate, type Segment, type Style } from './text.js';

/** What the person has chosen: the selected row, the collapsed paths, the filter. */
export interface ViewState {
  /** Index of the selected row among the visible rows; -1 for none (plain output). */
  cursor: number;
  /** Paths of collapsed supervisors. */
  collapsed: ReadonlySet<string>;
  /** Case-insensitive text a row must contain (with its ancestors kept); '' for all. */
  filter: string;
}

/** Everything one picture depends on. */
export interface RenderInput {
  tree: TreeNode | null;
  nodes: NodeRecord[];
  view: ViewState;
  /** The clock (ms since the epoch) for countdowns and heartbeat ages. */
  now: number;
  /** Columns; each line is cut to this many characters. */
  width: number;
  colour: boolean;
}

/** One visible row of the tree. */
export interface Row {
  node: TreeNode;
  depth: number;
  /** True when it has children (collapsed or not). */
  parent: boolean;
}

const SYMBOL: Record<ChildStatus, [string, Style]> = {
  running: ['●', 'green'],
  restarting: ['◐', 'yellow'],
  starting: ['…', 'cyan'],
  stopping: ['◌', 'yellow'],
  stopped: ['○', 'dim'],
  failed: ['✖', 'red'],
};

const NODE_STYLE: Record<string, Style> = { ready: 'green', degraded: 'yellow', draining: 'yellow', suspect: 'yellow', down: 'red' };

function matches(n: TreeNode, filter: string): boolean {
  const hay = `${n.id} ${n.path} ${n.status} ${n.lastError?.message ?? ''}`.toLowerCase();
  return hay.includes(filter.toLowerCase());
}

/** The rows shown, in order: collapsed supervisors hide their children; a filter keeps matches and their ancestors (expanded). */
export function visibleRows(tree: TreeNode | null, view: Pick<ViewState, 'collapsed' | 'filter'>): Row[] {
  const rows: Row[] = [];
  const filter = view.filter.trim();
  const keep = (n: TreeNode): boolean => !filter || matches(n, filter) || (n.children ?? []).some(keep);
  const walk = (n: TreeNode, depth: number): void => {
    if (!keep(n)) return;
    const children = n.children ?? [];
    rows.push({ node: n, depth, parent: children.length > 0 });
    if (filter ? true : !view.collapsed.has(n.path)) for (const c of children) walk(c, depth + 1);
  };
  if (tree) walk(tree, 0);
  return rows;
}

/** "1.2s" for a duration in ms (never negative). */
export function seconds(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
}

/** True when some visible row shows a countdown (the picture changes as time passes). */
export function hasCountdown(rows: Row[], now: number): boolean {
  return rows.some((r) => r.node.nextRestartAt !== null && r.node.nextRestartAt > now);
}

function rowSegments(r: Row, collapsed: ReadonlySet<string>, filtered: boolean, now: number): Segment[] {
  const n = r.node;
  const [symbol, style] = SYMBOL[n.status] ?? ['?', 'plain'];
  const twisty = !r.parent ? ' ' : collapsed.has(n.path) && !filtered ? '▸' : '▾';
  const segs: Segment[] = [
    [`${'  '.repeat(r.depth)}${twisty} `, 'plain'],
    [symbol, style],
    [` ${n.id}`, 'bold'],
    ['  ', 'plain'],
    [n.status, style],
  ];
  if (n.kind === 'supervisor' && n.strategy) segs.push([`  ${n.strategy}`, 'dim']);
  if (n.note) segs.push([`  ${n.note}`, 'cyan']);
  if (n.restarts > 0) segs.push([`  restarts ${n.restarts}`, 'yellow']);
  if (n.nextRestartAt !== null && n.nextRestartAt > now) segs.push([`  restart in ${seconds(n.nextRestartAt - now)}`, 'yellow']);
  if (n.lastError) segs.push([`  ✖ ${n.lastError.message}`, 'red']);
  if (n.stale) {
    // The last known subtree of a node that is gone: greyed, its age on its top row.
    for (const s of segs) s[1] = 'dim';
    if (n.stale.reason) segs.push([`  (${n.stale.reason}, ${seconds(now - n.stale.since)} ago)`, 'dim']);
  }
  return segs;
}

function nodeSegments(n: NodeRecord, now: number): Segment[] {
  return [
    ['  ', 'plain'],
    [n.name, 'bold'],
    ['  ', 'plain'],
    [n.status, NODE_STYLE[n.status] ?? 'plain'],
    [`  heartbeat ${seconds(now - n.lastSeenAt)} ago`, 'plain'],
    [`  ${n.id}  tasks ${n.usage.tasks}`, 'dim'],
  ];
}

/** The tree rows then a `nodes` section, each line cut to `width`; the selected row is inverse (or marked `>` without colour). */
export function render(input: RenderInput): string[] {
  const { view, now, width, colour } = input;
  const rows = visibleRows(input.tree, view);
  const filtered = view.filter.trim() !== '';
  const lines = rows.map((r, i) => {
    const selected = i === view.cursor;
    const segs = rowSegments(r, view.collapsed, filtered, now);
    if (view.cursor >= 0 && !colour) segs.unshift([selected ? '>' : ' ', 'plain']);
    return paint(truncate(segs, width), colour, selected && colour ? width : 0);
  });
  if (input.tree === null) lines.push(paint(truncate([['(no tree yet)', 'dim']], width), colour));
  else if (rows.length === 0) lines.push(paint(truncate([[`(nothing matches '${view.filter}')`, 'dim']], width), colour));
  lines.push('', paint(truncate([[`nodes (${input.nodes.length})`, 'bold']], width), colour));
  for (const n of input.nodes) lines.push(paint(truncate(nodeSegments(n, now), width), colour));
  return lines;
}
