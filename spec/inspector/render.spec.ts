/** The inspector's picture and keys, without a terminal. */
import test from 'ava';
import type { NodeRecord } from '../../lib/model/index.js';
import type { TreeNode } from '../../lib/supervision/index.js';
import { applyKey, frame, initialState, parseKeys, render, stripAnsi, visibleRows, type ViewState } from '../../lib/inspector/index.js';

const NOW = 1_000_000;
const leaf = (path: string, extra: Partial<TreeNode> = {}): TreeNode => ({
  id: path.split('/').pop()!, path, kind: 'worker', status: 'running', restarts: 0, nextRestartAt: null, lastError: null, ...extra,
});
const sup = (path: string, children: TreeNode[], extra: Partial<TreeNode> = {}): TreeNode => ({ ...leaf(path, extra), kind: 'supervisor', strategy: 'one_for_one', children });

const TREE = sup('/cluster/manager', [
  leaf('/cluster/manager/store'),
  leaf('/cluster/manager/reconciler', { status: 'restarting', restarts: 2, nextRestartAt: NOW + 1234, lastError: { name: 'Error', message: 'boom: the store went away' } }),
  sup('/cluster/manager/nodes', [leaf('/cluster/manager/nodes/node-a'), leaf('/cluster/manager/nodes/node-b', { status: 'failed' })]),
  leaf('/cluster/manager/api', { status: 'stopped' }),
  leaf('/cluster/manager/scheduler', { status: 'starting' }),
]);
const NODES: NodeRecord[] = [{
  id: 'node-a', name: 'w0', status: 'ready', labels: {}, runtime: 'process', capacity: { cpus: 2, memoryMb: 1024 }, usage: { tasks: 1, memoryMb: 0, cpuSeconds: 0 },
  lastSeenAt: NOW - 400, createdAt: 0, updatedAt: 0,
} as unknown as NodeRecord];
const view = (v: Partial<ViewState> = {}): ViewState => ({ cursor: -1, collapsed: new Set(), filter: '', ...v });
const draw = (v: Partial<ViewState> = {}, width = 200, colour = false) => render({ tree: TREE, nodes: NODES, view: view(v), now: NOW, width, colour });

test('each status has its symbol; restarts, the backoff countdown and the last error show', (t) => {
  const lines = draw();
  t.is(lines[0], '▾ ● manager  running  one_for_one');
  t.is(lines[1], '    ● store  running');
  t.is(lines[2], '    ◐ reconciler  restarting  restarts 2  restart in 1.2s  ✖ boom: the store went away');
  t.is(lines[5], '      ✖ node-b  failed');
  t.is(lines[6], '    ○ api  stopped');
  t.is(lines[7], '    … scheduler  starting');
});

test('the countdown follows the clock and disappears once due', (t) => {
  const at = (now: number) => render({ tree: TREE, nodes: [], view: view(), now, width: 200, colour: false })[2]!;
  t.regex(at(NOW + 1000), /restart in 0\.2s/);
  t.notRegex(at(NOW + 2000), /restart in/);
});

test('the nodes section shows name, status and heartbeat age', (t) => {
  const lines = draw();
  t.is(lines.at(-2), 'nodes (1)');
  t.is(lines.at(-1), '  w0  ready  heartbeat 0.4s ago  node-a  tasks 1');
});

test('a collapsed supervisor hides its children and shows ▸', (t) => {
  const lines = draw({ collapsed: new Set(['/cluster/manager/nodes']) });
  t.true(lines.includes('  ▸ ● nodes  running  one_for_one'));
  t.false(lines.some((l) => l.includes('node-a  running')));
  t.is(visibleRows(TREE, view({ collapsed: new Set(['/cluster/manager']) })).length, 1);
});

test('a filter keeps matching rows and their ancestors, even under collapsed ones', (t) => {
  const rows = visibleRows(TREE, view({ filter: 'NODE-B', collapsed: new Set(['/cluster/manager/nodes']) }));
  t.deepEqual(rows.map((r) => r.node.id), ['manager', 'nodes', 'node-b']);
  t.deepEqual(visibleRows(TREE, view({ filter: 'store went' })).map((r) => r.node.id), ['manager', 'reconciler']);
  t.regex(draw({ filter: 'zzz' })[0]!, /nothing matches 'zzz'/);
});

test('lines are cut to the width with …', (t) => {
  for (const l of draw({}, 30)) t.true([...l].length <= 30, l);
  t.is(draw({}, 30)[2], '    ◐ reconciler  restarting …');
});

test('colour off has no escape codes; colour on paints statuses and shows the selection inverse', (t) => {
  t.false(draw({ cursor: 1 }).some((l) => l.includes('\x1b')));
  t.is(draw({ cursor: 1 })[1], '>    ● store  running');
  const coloured = draw({ cursor: 1 }, 60, true);
  t.true(coloured[0]!.includes('\x1b[32m●\x1b[39m'));
  t.true(coloured[5]!.includes('\x1b[31m✖\x1b[39m'));
  t.true(coloured[1]!.startsWith('\x1b[7m') && coloured[1]!.endsWith('\x1b[27m'));
  t.is(stripAnsi(coloured[1]!).length, 60, 'the highlight spans the width');
  t.deepEqual(coloured.map(stripAnsi).slice(2), draw({}, 60).slice(2));
});

test('keys: move, collapse, expand, toggle, filter, quit', (t) => {
  t.deepEqual(parseKeys('j\x1b[Ak\r\x1b/q\x03\x7f'), [{ char: 'j' }, 'up', { char: 'k' }, 'enter', 'escape', { char: '/' }, { char: 'q' }, 'ctrl-c', 'backspace']);
  let s = initialState();
  const press = (chunk: string) => {
    for (const k of parseKeys(chunk)) {
      const r = applyKey(s, k, visibleRows(TREE, s));
      s = r.state;
      if (r.quit) return true;
    }
    return false;
  };
  press('jjj');
  t.is(visibleRows(TREE, s)[s.cursor]!.node.id, 'nodes');
  press('h');
  t.true(s.collapsed.has('/cluster/manager/nodes'));
  press('l');
  t.false(s.collapsed.has('/cluster/manager/nodes'));
  press('\r');
  t.true(s.collapsed.has('/cluster/manager/nodes'));
  press('\x1b[B\x1b[B\x1b[B\x1b[B\x1b[B');
  t.is(visibleRows(TREE, s)[s.cursor]!.node.id, 'scheduler', 'stops at the last row');
  press('h');
  t.is(s.cursor, 0, 'h on a leaf goes to its parent');
  press('/nodx\x7fe-a');
  t.is(s.editing, 'node-a');
  press('\r');
  t.deepEqual([s.filter, s.editing], ['node-a', null]);
  t.deepEqual(visibleRows(TREE, s).map((r) => r.node.id), ['manager', 'nodes', 'node-a']);
  press('/x\x1b');
  t.deepEqual([s.filter, s.editing], ['', null]);
  t.false(press('j'));
  t.true(press('q'));
});

test('the frame keeps the selected row in view and the footer on the last line', (t) => {
  const body = Array.from({ length: 20 }, (_, i) => `row ${i}`);
  const f = frame('head', body, 'foot', 15, 10, 0);
  t.is(f.lines.length, 10);
  t.is(f.lines[0], 'head');
  t.is(f.lines[9], 'foot');
  t.is(f.lines[8], 'row 15');
  t.is(frame('head', body, 'foot', 2, 10, f.scroll).lines[1], 'row 2');
});
