import test from 'ava';
import { normalizeServiceSpec, reconcileService, type ServiceRecord, type TaskRecord, type TaskState } from '../../lib/model/index.js';

const svc = (replicas: number, image = 'goat/echo'): ServiceRecord => ({ name: 'web', spec: normalizeServiceSpec({ name: 'web', replicas, task: { image } }), version: 1, createdAt: 0, updatedAt: 0 });
const task = (slot: number, generation: number, state: TaskState = 'running', desired: 'running' | 'stopped' = 'running', image = 'goat/echo'): TaskRecord => ({
  id: `web.${slot}.g${generation}`, service: 'web', slot, generation, node: 'n1', state, desired, restarts: 0, lastExit: null, failure: null, error: null,
  spec: normalizeServiceSpec({ name: 'web', task: { image } }).task, createdAt: 0, updatedAt: 0,
});
let n = 0;
const newId = (s: string, slot: number): string => `${s}.${slot}.new${n++}`;

test('an empty service gets one pending task per slot, generation 1', (t) => {
  const r = reconcileService('web', svc(3), [], 5, newId);
  t.deepEqual(r.create.map((x) => [x.slot, x.generation, x.state, x.node]), [[0, 1, 'pending', null], [1, 1, 'pending', null], [2, 1, 'pending', null]]);
  t.deepEqual(r.stop, []);
});

test('a converged service needs nothing', (t) => {
  const r = reconcileService('web', svc(2), [task(0, 1), task(1, 1)], 5, newId);
  t.deepEqual([r.create, r.stop], [[], []]);
});

test('scale down stops the slots past the replica count', (t) => {
  const r = reconcileService('web', svc(1), [task(0, 1), task(1, 1), task(2, 1)], 5, newId);
  t.deepEqual(r.stop.sort(), ['web.1.g1', 'web.2.g1']);
  t.deepEqual(r.create, []);
});

test('a failed or lost task is replaced by the next generation of its slot', (t) => {
  const r = reconcileService('web', svc(2), [task(0, 1, 'failed'), task(1, 3, 'lost'), task(1, 2, 'stopped', 'stopped')], 5, newId);
  t.deepEqual(r.create.map((x) => [x.slot, x.generation]), [[0, 2], [1, 4]]);
});

test('two live tasks in one slot: the current (highest generation) stays, the stale one stops', (t) => {
  const r = reconcileService('web', svc(1), [task(0, 1), task(0, 2)], 5, newId);
  t.deepEqual([r.create, r.stop], [[], ['web.0.g1']]);
});

test('a task being stopped does not count as live', (t) => {
  const r = reconcileService('web', svc(1), [task(0, 1, 'running', 'stopped')], 5, newId);
  t.deepEqual(r.create.map((x) => x.generation), [2]);
});

test('a changed spec replaces each task with the next generation', (t) => {
  const r = reconcileService('web', svc(1, 'goat/echo:v2'), [task(0, 1)], 5, newId);
  t.deepEqual(r.stop, ['web.0.g1']);
  t.deepEqual(r.create.map((x) => [x.generation, x.spec.image]), [[2, 'goat/echo:v2']]);
});

test('a deleted service stops all its live tasks', (t) => {
  t.deepEqual(reconcileService('web', undefined, [task(0, 1), task(1, 1, 'completed')], 5, newId), { create: [], stop: ['web.0.g1'] });
});

// --- slot supervision ------------------------------------------------------------

const failed = (slot: number, generation: number, node: string, at: number, supervision?: TaskRecord['supervision']): TaskRecord => ({
  ...task(slot, generation, 'failed'), node, failure: { kind: 'resource', message: 'no such executable: nope' }, createdAt: at, updatedAt: at,
  ...(supervision ? { supervision } : {}),
});
const half = (): number => 0.5; // no jitter

test('a failed task: the next generation waits its backoff, avoids that node, and says why (slot.backoff)', (t) => {
  const r = reconcileService('web', svc(1), [failed(0, 1, 'n1', 1_000)], 2_000, newId, half);
  const [next] = r.create;
  t.is(next?.generation, 2);
  t.is(next?.notBefore, 3_000, '1 s, the first reschedule delay');
  t.deepEqual(next?.avoid, ['n1']);
  t.regex(next?.error?.message ?? '', /re-placing in 1 s after 1 failure \(last on n1: no such executable: nope\)/);
  t.deepEqual(next?.supervision, { failures: [2_000], consecutive: 1, escalated: false, lastError: 'on n1: no such executable: nope', failedOn: ['n1'] });
  t.deepEqual(r.events?.map((e) => e.type), ['slot.backoff']);
});

test('a lost task is re-placed at once, its history kept, no node avoided', (t) => {
  const sup = { failures: [1], consecutive: 1, escalated: false };
  const r = reconcileService('web', svc(1), [{ ...task(0, 1, 'lost'), supervision: sup }], 2_000, newId, half);
  t.is(r.create[0]?.notBefore, undefined);
  t.is(r.create[0]?.avoid, undefined);
  t.deepEqual(r.create[0]?.supervision, sup);
});

test('past the budget: an alert once, the service degraded, the slot still re-placed every maxMs', (t) => {
  const spec = normalizeServiceSpec({ name: 'web', task: { image: 'goat/echo' }, reschedule: { maxAttempts: 2, maxMs: 60_000 } });
  const service: ServiceRecord = { name: 'web', spec, version: 1, createdAt: 0, updatedAt: 0 };
  const sup = { failures: [100, 200], consecutive: 2, escalated: false };
  const r = reconcileService('web', service, [failed(0, 3, 'n1', 300, sup)], 400, newId, half);
  t.is(r.create[0]?.notBefore, 400 + 60_000);
  t.true(r.create[0]?.supervision?.escalated);
  t.deepEqual(r.events?.map((e) => e.type), ['slot.backoff', 'alert', 'service.degraded']);
  const alert = r.events?.find((e) => e.type === 'alert');
  t.like(alert?.data, { service: 'web', slot: 0, node: 'n1', error: 'no such executable: nope' });
  t.is(r.status?.state, 'degraded');
  t.is(r.status?.reason, 'slot 0 is past its reschedule budget (last failure on n1: no such executable: nope)');
  // The next failure past the budget: no second alert, still degraded.
  const again = reconcileService('web', { ...service, status: r.status! }, [failed(0, 4, 'n1', 60_500, r.create[0]!.supervision)], 61_000, newId, half);
  t.deepEqual(again.events?.map((e) => e.type), ['slot.backoff']);
  t.is(again.create[0]?.notBefore, 61_000 + 60_000);
  t.is(again.status, undefined, 'unchanged');
  // Running again: the service is running.
  const running = { ...again.create[0]!, state: 'running' as const, node: 'n2', runningSince: 70_000 };
  const ok = reconcileService('web', { ...service, status: r.status! }, [running], 71_000, newId, half);
  t.is(ok.status?.state, 'running');
  t.deepEqual(ok.events?.map((e) => e.type), ['service.running']);
});

test('a task that completes under restart policy no / on-failure ends its slot\'s work: not re-placed, no backoff, no alert, the service running; under always it is re-placed (issue 10)', (t) => {
  const withPolicy = (policy: string, reschedule: Record<string, unknown> = {}): ServiceRecord => {
    const spec = normalizeServiceSpec({ name: 'web', replicas: 2, task: { image: 'goat/echo', restart: { policy } }, reschedule });
    return { name: 'web', spec, version: 1, createdAt: 0, updatedAt: 0, status: { state: 'degraded', reason: 'slot 0 is past its reschedule budget', since: 1 } };
  };
  for (const policy of ['no', 'on-failure']) {
    const service = withPolicy(policy, { maxAttempts: 1 });
    const escalated = { failures: [1, 2], consecutive: 2, escalated: true };
    const done = { ...task(0, 2, 'completed'), spec: service.spec.task, supervision: escalated, lastExit: { code: 0, signal: null, oomKilled: false, message: 'exited with code 0', finishedAt: 5 } };
    const running = { ...task(1, 1, 'running'), spec: service.spec.task };
    const r = reconcileService('web', service, [done, running], 10, newId, half);
    t.deepEqual([r.create, r.stop], [[], []], `${policy}: the completed slot is not re-placed`);
    t.false((r.events ?? []).some((e) => e.type === 'slot.backoff' || e.type === 'alert'), policy);
    t.is(r.status?.state, 'running', `${policy}: a completed slot is no failure: not degraded`);
    // A changed spec runs again in that slot.
    const v2 = { ...service, version: 2, spec: normalizeServiceSpec({ ...service.spec, task: { image: 'goat/echo:v2', restart: { policy } } }) };
    t.deepEqual(reconcileService('web', v2, [done, running], 10, newId, half).create.filter((x) => x.slot === 0).map((x) => [x.generation, x.spec.image]), [[3, 'goat/echo:v2']]);
    // Scaled down, the completed slot is retired (wanted stopped); scaled up again, the slot runs again.
    const down = { ...service, spec: { ...service.spec, replicas: 0 } };
    t.deepEqual(reconcileService('web', down, [done, running], 10, newId, half).stop.sort(), [done.id, running.id], `${policy}: scale-down retires the completed slot too`);
    t.deepEqual(reconcileService('web', service, [{ ...done, desired: 'stopped' as const }, running], 10, newId, half).create.map((x) => x.slot), [0]);
  }
  const always = withPolicy('always');
  const r = reconcileService('web', always, [{ ...task(0, 1, 'completed'), spec: always.spec.task }, { ...task(1, 1, 'running'), spec: always.spec.task }], 10, newId, half);
  t.deepEqual(r.create.map((x) => [x.slot, x.generation]), [[0, 2]]);
});

// --- rollouts ------------------------------------------------------------------------

const v2 = (over: Record<string, unknown> = {}, replicas = 4): ServiceRecord => ({
  name: 'web', version: 2, createdAt: 0, updatedAt: 0,
  spec: normalizeServiceSpec({ name: 'web', replicas, task: { image: 'goat/echo:v2' }, update: { monitorMs: 1_000, ...over } }),
  previousSpec: normalizeServiceSpec({ name: 'web', replicas, task: { image: 'goat/echo' } }),
});

test('stop-first, parallelism 1: one slot at a time, the next once the new task ran monitorMs', (t) => {
  const old = [0, 1, 2, 3].map((s) => task(s, 1));
  const r1 = reconcileService('web', v2(), old, 10, newId);
  t.deepEqual(r1.stop, ['web.0.g1']);
  t.deepEqual(r1.create.map((x) => [x.slot, x.spec.image]), [[0, 'goat/echo:v2']]);
  t.like(r1.update, { state: 'updating', version: 2, startedAt: 10 });
  const svc2 = { ...v2(), update: r1.update! };
  // The new task runs, but not for monitorMs yet: nothing more; wake up when it will have.
  const running = { ...r1.create[0]!, state: 'running' as const, node: 'n1', runningSince: 20 };
  const r2 = reconcileService('web', svc2, [running, ...old.slice(1)], 500, newId);
  t.deepEqual([r2.create, r2.stop], [[], []]);
  t.is(r2.wakeAt, 1_020);
  const r3 = reconcileService('web', svc2, [running, ...old.slice(1)], 1_020, newId);
  t.deepEqual(r3.stop, ['web.1.g1']);
});

test('start-first: the old task stops only once its successor runs', (t) => {
  const old = [task(0, 1)];
  const r1 = reconcileService('web', v2({ order: 'start-first' }, 1), old, 10, newId);
  t.deepEqual(r1.stop, []);
  t.is(r1.create.length, 1);
  const svc2 = { ...v2({ order: 'start-first' }, 1), update: r1.update! };
  const r2 = reconcileService('web', svc2, [...old, { ...r1.create[0]! }], 20, newId);
  t.deepEqual([r2.create, r2.stop], [[], []], 'new task pending: the old one keeps running');
  const r3 = reconcileService('web', svc2, [...old, { ...r1.create[0]!, state: 'running', runningSince: 30 }], 40, newId);
  t.deepEqual(r3.stop, ['web.0.g1']);
});

test('with a health check, a new task counts as updated once healthy for monitorMs, not once running; an unhealthy verdict fails the update (issue 10)', (t) => {
  const health = { exec: ['true'], intervalMs: 100, retries: 3 };
  const checked = (over: Record<string, unknown> = {}): ServiceRecord => {
    const base = v2({ ...over }, 2);
    return { ...base, spec: normalizeServiceSpec({ ...base.spec, task: { ...base.spec.task, health } }) };
  };
  const old = [0, 1].map((s) => task(s, 1));
  const r1 = reconcileService('web', checked(), old, 10, newId);
  t.deepEqual(r1.create.map((x) => x.slot), [0]);
  const svc2 = { ...checked(), update: r1.update! };
  // Running for longer than monitorMs, but never healthy: still in flight, the next slot waits.
  const running = { ...r1.create[0]!, state: 'running' as const, node: 'n1', runningSince: 20 };
  const unhealthy = reconcileService('web', svc2, [running, old[1]!], 5_000, newId);
  t.deepEqual([unhealthy.create, unhealthy.stop], [[], []]);
  t.is(unhealthy.wakeAt, undefined, 'no monitor runs before the first passing probe');
  t.is(unhealthy.update, undefined, 'the rollout goes on waiting');
  // Healthy at 3 000: updated at 4 000 (monitorMs 1 s), not at 1 020.
  const healthy = { ...running, healthySince: 3_000 };
  const r2 = reconcileService('web', svc2, [healthy, old[1]!], 3_500, newId);
  t.deepEqual([r2.create, r2.stop, r2.wakeAt], [[], [], 4_000]);
  const r3 = reconcileService('web', svc2, [healthy, old[1]!], 4_000, newId);
  t.deepEqual(r3.stop, ['web.1.g1']);
  // The health check's verdict (the task exits unhealthy and restarts): a failure of the update, as a crash.
  const failedHealth = { ...running, state: 'restarting' as const, restarts: 1, failure: { kind: 'health' as const, message: '3 health checks failed in a row' } };
  const back = reconcileService('web', { ...checked({ failureAction: 'rollback' }), update: r1.update! }, [failedHealth, old[1]!], 5_000, newId);
  t.is(back.update?.state, 'rolling_back');
  t.regex(back.rollback ?? '', /rolling back: 1 of 1 new task failed .*3 health checks failed in a row/);
  // start-first: the old task stops once its successor is healthy, not once it runs.
  const sf = { ...checked({ order: 'start-first' }) };
  const s1 = reconcileService('web', sf, old, 10, newId);
  const sfSvc = { ...sf, update: s1.update! };
  const sfRunning = { ...s1.create[0]!, state: 'running' as const, node: 'n1', runningSince: 20 };
  t.deepEqual(reconcileService('web', sfSvc, [...old, sfRunning], 30, newId).stop, []);
  t.deepEqual(reconcileService('web', sfSvc, [...old, { ...sfRunning, healthySince: 40 }], 50, newId).stop, ['web.0.g1']);
});

test('a failing new task: pause says why; rollback asks for the previous spec; completes when all are updated', (t) => {
  const old = [0, 1].map((s) => task(s, 1));
  const r1 = reconcileService('web', v2({}, 2), old, 10, newId);
  const crashing = { ...r1.create[0]!, state: 'restarting' as const, restarts: 1, node: 'n1', lastExit: { code: 1, signal: null, oomKilled: false, message: 'exited with code 1', finishedAt: 15 } };
  const paused = reconcileService('web', { ...v2({}, 2), update: r1.update! }, [crashing, old[1]!], 20, newId);
  t.is(paused.update?.state, 'paused');
  t.regex(paused.update?.message ?? '', /update paused: 1 of 1 new task failed .*exited with code 1/);
  t.deepEqual(paused.events?.map((e) => e.type), ['update.paused']);
  const back = reconcileService('web', { ...v2({ failureAction: 'rollback' }, 2), update: r1.update! }, [crashing, old[1]!], 20, newId);
  t.is(back.update?.state, 'rolling_back');
  t.regex(back.rollback ?? '', /rolling back/);
  const done = [0, 1].map((s) => ({ ...task(s, 2, 'running', 'running', 'goat/echo:v2'), createdAt: 10, runningSince: 11 }));
  const finished = reconcileService('web', { ...v2({}, 2), update: r1.update! }, [...done, ...old.map((o) => ({ ...o, state: 'stopped' as const, desired: 'stopped' as const }))], 5_000, newId);
  t.like(finished.update, { state: 'completed', completedAt: 5_000 });
});
