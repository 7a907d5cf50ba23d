/**
 * The inspector's picture: a pure function from a tree snapshot, the nodes,
 * the view state and the time to lines of text. No terminal needed; the
 * watch loop only writes what this returns.
 */
import { waitingWhy, type NodeRecord, type ServiceInfo, type SlotInfo, type TaskState } from '../model/index.js';
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
  /** The actor; for a slot row, its service's `services/<name>`. */
  node: TreeNode;
  depth: number;
  /** True when it has children or slots (collapsed or not). */
  parent: boolean;
  /** Set on the rows under a service: one of its slots. */
  slot?: SlotInfo;
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
  const service = n.service ? `${n.service.status} ${n.service.reason ?? ''} ${n.service.rollout?.state ?? ''}` : '';
  const hay = `${n.id} ${n.path} ${n.status} ${n.lastError?.message ?? ''} ${service}`.toLowerCase();
  return hay.includes(filter.toLowerCase());
}

function slotMatches(s: SlotInfo, filter: string): boolean {
  return `slot ${s.slot} ${s.taskId} ${s.state} ${s.node ?? ''} ${s.why ?? ''}`.toLowerCase().includes(filter.toLowerCase());
}

/**
 * The rows shown, in order: collapsed supervisors (and services) hide their
 * children (slots); a filter keeps matches and their ancestors (expanded).
 */
export function visibleRows(tree: TreeNode | null, view: Pick<ViewState, 'collapsed' | 'filter'>): Row[] {
  const rows: Row[] = [];
  const filter = view.filter.trim();
  const keep = (n: TreeNode): boolean => !filter || matches(n, filter) || (n.service?.slots ?? []).some((s) => slotMatches(s, filter)) || (n.children ?? []).some(keep);
  const walk = (n: TreeNode, depth: number): void => {
    if (!keep(n)) return;
    const children = n.children ?? [];
    const slots = n.service?.slots ?? [];
    rows.push({ node: n, depth, parent: children.length > 0 || slots.length > 0 });
    if (filter ? false : view.collapsed.has(n.path)) return;
    const all = !filter || matches(n, filter);
    for (const slot of slots) if (all || slotMatches(slot, filter)) rows.push({ node: n, depth: depth + 1, parent: false, slot });
    for (const c of children) walk(c, depth + 1);
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
  return rows.some((r) => (r.slot ? r.slot.notBefore !== undefined && r.slot.notBefore > now : r.node.nextRestartAt !== null && r.node.nextRestartAt > now));
}

/** A slot's current task state as the tree's symbols show a child's. */
const SLOT_SYMBOL: Partial<Record<TaskState, [string, Style]>> = {
  pending: SYMBOL.starting, assigned: SYMBOL.starting, starting: SYMBOL.starting, running: SYMBOL.running,
  restarting: SYMBOL.restarting, failed: SYMBOL.failed, lost: SYMBOL.failed,
};

/** A service's status and rollout, after its row. */
function serviceSegments(info: ServiceInfo): Segment[] {
  const running = info.slots.filter((s) => s.state === 'running' && s.desired === 'running').length;
  const segs: Segment[] = [['  service ', 'plain'], [info.status, info.status === 'running' ? 'green' : info.status === 'degraded' ? 'red' : 'dim']];
  if (info.reason) segs.push([`: ${info.reason}`, 'red']);
  segs.push([`  ${running}/${info.replicas} running`, 'plain']);
  if (info.rollout && info.rollout.state !== 'completed') {
    segs.push([`  update ${info.rollout.state}`, info.rollout.state === 'paused' ? 'red' : 'yellow'], [` (${info.rollout.message})`, 'dim']);
  }
  return segs;
}

/** A service's status and rollout as plain text: `service degraded: slot 1 is past … 2/3 running  update updating (…)`. */
export function serviceText(info: ServiceInfo): string {
  return paint(serviceSegments(info), false).trim();
}

/** One slot of a service: `slot 1  … pending  gen 4  re-placing in 8 s after 3 failures (last on n1: …)`. */
export function slotSegments(s: SlotInfo, now: number): Segment[] {
  const [symbol, style] = SLOT_SYMBOL[s.state] ?? ['○', 'dim'];
  const segs: Segment[] = [
    [`slot ${s.slot}`, 'bold'],
    ['  ', 'plain'],
    [symbol, style],
    [` ${s.state}`, style],
    [`  gen ${s.generation}`, 'plain'],
    [s.node ? `  on ${s.node}` : '', 'dim'],
  ];
  if (s.desired === 'stopped' && s.state !== 'stopped') segs.push(['  stopping', 'yellow']);
  if (s.outdated) segs.push(['  outdated', 'yellow']);
  if (s.escalated) segs.push(['  past its budget', 'red']);
  if (s.why && s.state !== 'running') segs.push([`  ${waitingWhy(s.why, s.notBefore, now)}`, s.state === 'pending' ? 'yellow' : 'red']);
  return segs;
}

function rowSegments(r: Row, collapsed: ReadonlySet<string>, filtered: boolean, now: number): Segment[] {
  const n = r.node;
  if (r.slot) return [[`${'  '.repeat(r.depth)}  `, 'plain'], ...slotSegments(r.slot, now)];
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
  if (n.service) segs.push(...serviceSegments(n.service));
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
