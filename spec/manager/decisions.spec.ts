/**
 * The manager's decisions as pure functions, without timers or actors:
 * fair placement rounds with backoff, a worker's hello (re-sends, stale
 * copies, tasks it no longer reports), and a service controller's step.
 */
import test from 'ava';
import { afterRound, applyHello, applyReports, watchesRunning, INITIAL_PLACEMENT, PLACEMENT_DEFAULTS, roundBatch, serviceStep, initialServiceState, type PlacementState } from '../../lib/manager/index.js';
import type { ServiceRecord, TaskRecord } from '../../lib/model/index.js';
import { service, task } from '../store/helpers.js';

const ids = (n: number, prefix: string): { id: string }[] => Array.from({ length: n }, (_, i) => ({ id: `${prefix}.${String(i).padStart(5, '0')}` }));
const key = (t: { id: string }): string => t.id;

test('placement: a round tries at most maxPerRound tasks and goes on where the last one stopped, wrapping around', (t) => {
  const pending = [...ids(5, 'a'), ...ids(2, 'b')];
  let state: PlacementState = INITIAL_PLACEMENT;
  const seen: string[][] = [];
  for (let i = 0; i < 3; i++) {
    const round = roundBatch(state, pending, key, 3);
    seen.push(round.batch.map(key));
    state = afterRound(state, { ...round, placed: 0 }, key).state;
  }
  t.deepEqual(seen, [['a.00000', 'a.00001', 'a.00002'], ['a.00003', 'a.00004', 'b.00000'], ['b.00001', 'a.00000', 'a.00001']]);
});

test('placement: thousands of unplaceable tasks of one service cannot starve a later service', (t) => {
  const pending = [...ids(PLACEMENT_DEFAULTS.maxPerRound + 1, 'big'), { id: 'small.0' }];
  let state: PlacementState = INITIAL_PLACEMENT;
  let rounds = 0;
  let tried = false;
  while (!tried && rounds < 10) {
    const round = roundBatch(state, pending, key);
    rounds++;
    tried = round.batch.some((x) => x.id === 'small.0');
    state = afterRound(state, { ...round, placed: 0 }, key).state;
  }
  t.true(tried);
  t.is(rounds, 2, 'tried in the second round (⌈2002 / 2000⌉)');
});

test('placement: rounds that place nothing back off, doubling to a cap; a round that places goes on at once; a covered queue waits for a change', (t) => {
  const pending = ids(10, 'x');
  let state: PlacementState = INITIAL_PLACEMENT;
  const waits: (number | null)[] = [];
  for (let i = 0; i < 10; i++) {
    const round = roundBatch(state, pending, key, 4);
    const next = afterRound(state, { ...round, placed: 0 }, key);
    waits.push(next.nextInMs);
    state = next.state;
  }
  t.deepEqual(waits, [50, 100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000]);
  const placing = afterRound(state, { ...roundBatch(state, pending, key, 4), placed: 1 }, key);
  t.is(placing.nextInMs, 0);
  t.is(placing.state.idleRounds, 0);
  t.is(afterRound(INITIAL_PLACEMENT, { ...roundBatch(INITIAL_PLACEMENT, pending, key), placed: 0 }, key).nextInMs, null, 'every task tried: nothing until something changes');
});

const report = (tk: TaskRecord, state: TaskRecord['state']) => ({ taskId: tk.id, service: tk.service, slot: tk.slot, generation: tk.generation, state, restarts: 0 });

test('hello: reported states are applied; an assigned task not reported is sent again; a task it ran and no longer reports is lost', (t) => {
  const running = task('web', 0, { node: 'n1', state: 'running' });
  const assigned = task('web', 1, { node: 'n1', state: 'assigned' });
  const forgotten = task('web', 2, { node: 'n1', state: 'running' });
  const starting = task('api', 0, { node: 'n1', state: 'starting' });
  const store = new Map([running, assigned, forgotten, starting].map((x) => [x.id, x]));
  const out = applyHello('n1', 'w1', [report(starting, 'running'), report(running, 'running')], [...store.values()], (id) => store.get(id), 5);
  t.deepEqual(out.resend.map((x) => x.id), [assigned.id]);
  const byId = new Map(out.puts.map((x) => [x.id, x]));
  t.is(byId.get(starting.id)?.state, 'running');
  t.is(byId.get(forgotten.id)?.state, 'lost');
  t.is(byId.get(forgotten.id)?.desired, 'stopped', 'replaced, and stopped should it come back');
  t.is(byId.get(forgotten.id)?.error?.code, 'GOAT_ERR_NO_SUCH_TASK');
  t.false(byId.has(running.id), 'nothing changed: nothing written');
  t.deepEqual(out.services, ['web'], 'its controller looks again');
  t.deepEqual(out.stops, []);
});

test('hello: a copy the manager no longer wants (stale generation, unknown task) is stopped, never the current one', (t) => {
  const current = task('web', 0, { node: 'n1', state: 'running', generation: 2 });
  const store = new Map([[current.id, current]]);
  const out = applyHello('n1', 'w1', [
    { ...report(current, 'running'), generation: 1 },
    report(current, 'running'),
    { taskId: 'gone.0.x', service: 'gone', slot: 0, generation: 1, state: 'running', restarts: 0 },
  ], [current], (id) => store.get(id), 5);
  t.deepEqual(out.stops, [{ id: current.id, generation: 1 }, { id: 'gone.0.x', generation: 1 }]);
  t.deepEqual(out.puts, []);
});

test('hello: where a task is now counts even when the moves between went unreported (exited, restarted while the link was down: running); nothing revives a terminal task', (t) => {
  const crashed = task('web', 0, { node: 'n1', state: 'exited', restarts: 1 });
  const done = task('web', 1, { node: 'n1', state: 'failed' });
  const store = new Map([crashed, done].map((x) => [x.id, x]));
  const out = applyHello('n1', 'w1', [{ ...report(crashed, 'running'), restarts: 2 }, report(done, 'running')], [crashed], (id) => store.get(id), 7);
  const byId = new Map(out.puts.map((x) => [x.id, x]));
  t.like(byId.get(crashed.id), { state: 'running', restarts: 2, runningSince: 7 });
  t.false(byId.has(done.id), 'a failed task stays failed');
  t.deepEqual(out.stops, [{ id: done.id, generation: done.generation }], 'and its copy is stopped');
});

test('reports: a task that starts running makes a degraded or rolling service look again (issue 10: degraded → running); others only on terminal states', (t) => {
  const ghost = task('ghost', 0, { node: 'n1', state: 'starting' });
  const web = task('web', 0, { node: 'n1', state: 'starting' });
  const store = new Map([ghost, web].map((x) => [x.id, x]));
  const degraded = { status: { state: 'degraded' as const, reason: 'slot 0 is past its reschedule budget', since: 1 } };
  const watches = (name: string): boolean => watchesRunning(name === 'ghost' ? (degraded as unknown as ServiceRecord) : ({} as ServiceRecord));
  const out = applyReports('n1', [report(ghost, 'running'), report(web, 'running')], (id) => store.get(id), 5, watches);
  t.deepEqual(out.services, ['ghost']);
  t.deepEqual(applyReports('n1', [report(ghost, 'running')], (id) => store.get(id), 5).services, [], 'without a watcher: nothing to look at');
  t.false(watchesRunning(undefined));
});

test('reports: healthySince is set when a run with a health check first passes it, at once for one without (or from a worker that does not say), and reset by a new run (issue 10)', (t) => {
  const checked = task('web', 0, { node: 'n1', state: 'starting' });
  let store = new Map([[checked.id, checked]]);
  const rolling = (): boolean => true;
  const up = applyReports('n1', [{ ...report(checked, 'running'), healthy: false }], (id) => store.get(id), 10, rolling);
  t.like(up.puts[0], { state: 'running', runningSince: 10 });
  t.is(up.puts[0]!.healthySince, undefined, 'running, not yet healthy');
  store = new Map([[checked.id, up.puts[0]!]]);
  const healthy = applyReports('n1', [{ ...report(checked, 'running'), healthy: true }], (id) => store.get(id), 25, rolling);
  t.like(healthy.puts[0], { state: 'running', runningSince: 10, healthySince: 25 });
  t.deepEqual(healthy.services, ['web'], 'a rolling service looks again when a task becomes healthy');
  store = new Map([[checked.id, healthy.puts[0]!]]);
  t.deepEqual(applyReports('n1', [{ ...report(checked, 'running'), healthy: true }], (id) => store.get(id), 30, rolling).puts, [], 'healthy again: nothing changes');
  for (const state of ['exited', 'restarting', 'starting'] as const) {
    store = new Map([[checked.id, applyReports('n1', [{ ...report(checked, state), restarts: 1 }], (id) => store.get(id), 45).puts[0]!]]);
  }
  const again = applyReports('n1', [{ ...report(checked, 'running'), restarts: 1, healthy: false }], (id) => store.get(id), 50);
  t.like(again.puts[0], { runningSince: 50 });
  t.is(again.puts[0]!.healthySince, undefined, 'a new run is not healthy until it passes again');
  const plain = task('web', 1, { node: 'n1', state: 'starting' });
  for (const r of [{ ...report(plain, 'running'), healthy: true }, report(plain, 'running')]) {
    t.like(applyReports('n1', [r], (id) => (id === plain.id ? plain : undefined), 60).puts[0], { runningSince: 60, healthySince: 60 });
  }
});

test('service step: creates one task per empty slot, stops the extra slots, and keeps slots → current task as its state', (t) => {
  const record = (replicas: number): ServiceRecord => ({ name: 'web', spec: service('web', replicas), version: 1, createdAt: 0, updatedAt: 0 });
  let n = 0;
  const newId = (s: string, slot: number): string => `${s}.${slot}.t${n++}`;
  const first = serviceStep(initialServiceState('web'), record(2), [], 1, newId);
  t.deepEqual(first.effects.puts.map((x) => [x.slot, x.state]), [[0, 'pending'], [1, 'pending']]);
  t.true(first.effects.place);
  t.deepEqual(first.state.slots.map((x) => [x.slot, x.generation, x.state]), [[0, 1, 'pending'], [1, 1, 'pending']]);
  const placed = first.effects.puts.map((x) => ({ ...x, node: 'n1', state: 'running' as const }));
  const down = serviceStep(first.state, record(1), placed, 2, newId);
  t.deepEqual(down.effects.stops, [{ node: 'n1', id: placed[1]!.id, generation: 1 }]);
  t.false(down.effects.place);
  t.false(down.effects.done);
  const deleted = serviceStep(down.state, undefined, placed.map((x) => ({ ...x, desired: 'stopped' as const, state: 'stopped' as const })), 3, newId);
  t.true(deleted.effects.done, 'a deleted service with every task stopped: its controller ends');
  t.is(deleted.state.version, null);
});

test('service step: a completed slot (restart policy no) scaled away is only no longer wanted — no stop sent to its node — and scaled up again it runs anew (issue 10)', (t) => {
  const spec = { ...service('job', 1), task: { ...service('job', 1).task, restart: { ...service('job', 1).task.restart, policy: 'no' as const } } };
  const record = (replicas: number): ServiceRecord => ({ name: 'job', spec: { ...spec, replicas }, version: 1, createdAt: 0, updatedAt: 0 });
  const done: TaskRecord = task('job', 0, { id: 'job.0.a', state: 'completed', node: 'n1', spec: spec.task });
  const newId = (s: string, slot: number): string => `${s}.${slot}.new`;
  t.deepEqual(serviceStep(initialServiceState('job'), record(1), [done], 5, newId).effects.puts, [], 'its work is done: nothing to do');
  const down = serviceStep(initialServiceState('job'), record(0), [done], 5, newId);
  t.deepEqual(down.effects.stops, [], 'nothing runs: no stop command');
  t.deepEqual(down.effects.puts.map((x) => [x.id, x.state, x.desired]), [['job.0.a', 'completed', 'stopped']]);
  const up = serviceStep(down.state, record(1), down.effects.puts, 6, newId);
  t.deepEqual(up.effects.puts.map((x) => [x.slot, x.generation, x.state]), [[0, 2, 'pending']]);
});
