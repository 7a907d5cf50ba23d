/** A service's slots in the tree: the view built from its task records, and the inspector's rows with their countdowns on a fixed clock. */
import test from 'ava';
import { normalizeServiceSpec, serviceInfo, slotInfos, tasksBySlot, type ServiceRecord, type TaskRecord } from '../../lib/model/index.js';
import type { TreeNode } from '../../lib/supervision/index.js';
import { applyKey, hasCountdown, render, visibleRows, type ViewState } from '../../lib/inspector/index.js';
import { whyColumn } from '../../lib/cli/commands.js';

const NOW = 5_000_000;
const spec = normalizeServiceSpec({ name: 'web', replicas: 3, task: { image: 'goat/echo', env: { V: '2' } } });
const oldTask = { ...spec.task, env: { V: '1' } };

function task(slot: number, generation: number, fields: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: `web.${slot}.g${generation}`, service: 'web', slot, generation, node: 'n1', state: 'running', desired: 'running',
    restarts: 0, lastExit: null, failure: null, error: null, spec: spec.task, createdAt: NOW - 60_000, updatedAt: NOW - 60_000, ...fields,
  };
}

const WHY = 're-placing in 8 s after 3 failures (last on n2: executable nope not found on this node)';
const TASKS: TaskRecord[] = [
  task(0, 1),
  // Slot 1: three failures, the fourth generation waits until NOW + 8 s.
  task(1, 1, { state: 'failed', node: 'n1', desired: 'stopped' }),
  task(1, 2, { state: 'failed', node: 'n2', desired: 'stopped' }),
  task(1, 3, { state: 'failed', node: 'n2', desired: 'stopped', failure: { kind: 'resource', message: 'executable nope not found on this node' } }),
  task(1, 4, {
    state: 'pending', node: null, notBefore: NOW + 8_000, error: { message: WHY }, createdAt: NOW, updatedAt: NOW,
    supervision: { failures: [NOW - 9_000, NOW - 4_000, NOW], consecutive: 3, escalated: true, lastError: 'on n2: executable nope not found on this node', failedOn: ['n1', 'n2'] },
  }),
  // Slot 2: still the old spec (the rollout has not reached it).
  task(2, 1, { spec: oldTask, node: 'n3' }),
];
const SERVICE: ServiceRecord = {
  name: 'web', spec, version: 2, createdAt: 0, updatedAt: NOW,
  status: { state: 'degraded', reason: 'slot 1 is past its reschedule budget (last failure on n2: executable nope not found on this node)', since: NOW },
  update: { state: 'updating', message: 'update in progress', version: 2, startedAt: NOW - 1_000 },
};

test('tasks by slot: each slot newest generation first, slots in order (the bookkeeping the reconcile and the controller share)', (t) => {
  const bySlot = tasksBySlot([...TASKS].reverse());
  t.deepEqual([...bySlot.keys()], [0, 1, 2]);
  t.deepEqual(bySlot.get(1)!.map((x) => x.generation), [4, 3, 2, 1]);
});

test('a slot shows its current task, how many failures, past its budget, outdated, and when it is re-placed', (t) => {
  const slots = slotInfos(TASKS, SERVICE);
  t.deepEqual(slots.map((s) => [s.slot, s.generation, s.state, s.node]), [[0, 1, 'running', 'n1'], [1, 4, 'pending', null], [2, 1, 'running', 'n3']]);
  const waiting = slots[1]!;
  t.is(waiting.notBefore, NOW + 8_000);
  t.is(waiting.failures, 3);
  t.true(waiting.escalated);
  t.is(waiting.why, WHY);
  t.deepEqual(slots.map((s) => s.outdated), [false, false, true]);
  const info = serviceInfo(SERVICE, TASKS);
  t.like(info, { status: 'degraded', replicas: 3, rollout: { state: 'updating', message: 'update in progress', version: 2 } });
  t.regex(info.reason ?? '', /slot 1 is past its reschedule budget/);
  t.like(serviceInfo(undefined, TASKS), { status: 'deleted', rollout: null });
});

const leaf = (path: string, extra: Partial<TreeNode> = {}): TreeNode => ({ id: path.split('/').pop()!, path, kind: 'worker', status: 'running', restarts: 0, nextRestartAt: null, lastError: null, ...extra });
const TREE: TreeNode = {
  ...leaf('/cluster/manager'), kind: 'supervisor', strategy: 'one_for_one', children: [
    { ...leaf('/cluster/manager/services'), kind: 'supervisor', strategy: 'one_for_one', children: [leaf('/cluster/manager/services/web', { service: serviceInfo(SERVICE, TASKS) })] },
  ],
};
const view = (v: Partial<ViewState> = {}): ViewState => ({ cursor: -1, collapsed: new Set(), filter: '', ...v });
const draw = (now: number, v: Partial<ViewState> = {}): string[] => render({ tree: TREE, nodes: [], view: view(v), now, width: 300, colour: false });

test('the inspector shows the service status, its rollout and each slot under it', (t) => {
  const lines = draw(NOW);
  t.is(lines[2], '    ▾ ● web  running  service degraded: slot 1 is past its reschedule budget (last failure on n2: executable nope not found on this node)  2/3 running  update updating (update in progress)');
  t.is(lines[3], '        slot 0  ● running  gen 1  on n1');
  t.is(lines[4], `        slot 1  … pending  gen 4  past its budget  ${WHY}`);
  t.is(lines[5], '        slot 2  ● running  gen 1  on n3  outdated');
});

test('a waiting slot counts down with the clock, and the picture stops ticking once it is due', (t) => {
  const slotLine = (now: number): string => draw(now)[4]!;
  t.regex(slotLine(NOW + 2_500), /re-placing in 6 s after 3 failures \(last on n2: executable nope not found/);
  t.regex(slotLine(NOW + 7_900), /re-placing in 1 s/);
  t.regex(slotLine(NOW + 9_000), /re-placing in 0 s/);
  t.true(hasCountdown(visibleRows(TREE, view()), NOW + 7_900));
  t.false(hasCountdown(visibleRows(TREE, view()), NOW + 8_000));
  // ps says the same thing, from the task record.
  t.is(whyColumn(TASKS[4]!, NOW + 2_500), WHY.replace('8 s', '6 s'));
});

test('slots collapse with their service, a filter finds a slot, and ← on a slot goes to its service', (t) => {
  t.false(draw(NOW, { collapsed: new Set(['/cluster/manager/services/web']) }).some((l) => l.includes('gen 4')));
  t.true(draw(NOW, { collapsed: new Set(['/cluster/manager/services/web']) }).some((l) => l.includes('▸ ● web')));
  const found = visibleRows(TREE, view({ filter: 'WEB.1.G4' }));
  t.deepEqual(found.map((r) => (r.slot ? `slot ${r.slot.slot}` : r.node.id)), ['manager', 'services', 'web', 'slot 1']);
  const rows = visibleRows(TREE, view());
  const slotRow = rows.findIndex((r) => r.slot?.slot === 2);
  const left = applyKey({ ...view({ cursor: slotRow }), editing: null }, 'left', rows);
  t.is(rows[left.state.cursor]!.node.id, 'web');
  t.false(rows[left.state.cursor]!.slot !== undefined);
});
