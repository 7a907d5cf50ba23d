/**
 * Task history in the SQLite store: at most `keep` terminal tasks per slot,
 * live tasks read through the partial index (their cost does not grow with
 * the history), services' state (previous spec, rollout, status).
 */
import test from 'ava';
import Database from 'better-sqlite3';
import type { TaskState } from '../../lib/model/index.js';
import { service, slotHistory, task, tempStore } from './helpers.js';

const t0 = (slot: number, generation: number, state: TaskState, svc = 'web') => task(svc, slot, { id: `${svc}.${slot}.g${generation}`, generation, state });

test('1,000 failures of one slot leave at most 5 terminal records; the live task and other slots stay', (t) => {
  const store = tempStore(t);
  const tasks = Array.from({ length: 1_000 }, (_, i) => t0(0, i + 1, 'failed'));
  store.putTasks([...tasks, t0(0, 1_001, 'running'), t0(1, 1, 'failed'), t0(1, 2, 'stopped'), t0(0, 1, 'failed', 'api')]);
  t.is(store.pruneTaskHistory('web', 5), 995);
  const left = store.listTasks({ service: 'web' }).filter((x) => x.slot === 0);
  t.deepEqual(left.map((x) => x.generation), [996, 997, 998, 999, 1_000, 1_001]);
  t.is(store.listTasks({ service: 'web' }).filter((x) => x.slot === 1).length, 2);
  t.is(store.listTasks({ service: 'api' }).length, 1, 'other services untouched');
  t.is(store.pruneTaskHistory('web', 0), 7);
  t.deepEqual(store.listTasks({ service: 'web' }).map((x) => x.state), ['running']);
});

test('listActiveTasks: only unfinished tasks, filtered by service and node, through the partial index', (t) => {
  const store = tempStore(t);
  store.putTasks([t0(0, 1, 'failed'), t0(0, 2, 'running'), { ...t0(1, 1, 'pending'), node: 'n1' }, t0(0, 1, 'stopped', 'api'), t0(1, 1, 'unknown', 'api')]);
  t.deepEqual(store.listActiveTasks().map((x) => x.id), ['api.1.g1', 'web.0.g2', 'web.1.g1']);
  t.deepEqual(store.listActiveTasks({ service: 'web' }).map((x) => x.id), ['web.0.g2', 'web.1.g1']);
  t.deepEqual(store.listActiveTasks({ node: 'n1' }).map((x) => x.id), ['web.1.g1']);
  const raw = new Database(store.file, { readonly: true });
  t.teardown(() => raw.close());
  const plan = raw.prepare("EXPLAIN QUERY PLAN SELECT record FROM tasks INDEXED BY tasks_active WHERE state NOT IN ('completed', 'failed', 'lost', 'stopped') AND service = ? ORDER BY service, slot, generation, id").all('web') as { detail: string }[];
  t.regex(plan.map((p) => p.detail).join('\n'), /tasks_active/);
  t.deepEqual(store.countTasksByState(), { failed: 1, running: 1, pending: 1, stopped: 1, unknown: 1 });
});

test('listCurrentTasks: what a reconcile reads — live tasks, each slot\'s newest, and those created since a rollout started; not the older history', (t) => {
  const store = tempStore(t);
  store.putTasks(slotHistory());
  const ids = (since: number) => store.listCurrentTasks('web', since).map((x) => x.id);
  t.deepEqual(ids(Number.MAX_SAFE_INTEGER), ['web.0.g3', 'web.1.g3', 'web.2.g2'], 'the live and newest of each slot');
  t.deepEqual(ids(50), ['web.0.g3', 'web.1.g2', 'web.1.g3', 'web.2.g2'], 'and what was created since 50');
  t.deepEqual(ids(0), store.listTasks({ service: 'web' }).map((x) => x.id));
  t.deepEqual(store.listCurrentTasks('nope', 0), []);
});

test("a service's state survives a spec change and a reopen; a deleted service's state goes with it", (t) => {
  const store = tempStore(t);
  store.putService(service('web'), 1);
  const previous = service('web', 2, 'goat/echo:0');
  t.true(store.putServiceState('web', { previousSpec: previous, update: { state: 'updating', message: 'update in progress', version: 2, startedAt: 5 }, status: { state: 'running', since: 1 } }));
  const changed = store.putService(service('web', 3), 6);
  t.is(changed.version, 2);
  t.like(changed, { update: { state: 'updating', version: 2 }, status: { state: 'running' } });
  t.is(changed.previousSpec?.task.image, 'goat/echo:0');
  t.false(store.putServiceState('nope', {}));
  store.deleteService('web');
  store.putService(service('web'), 7);
  t.is(store.getService('web')?.update, undefined);
});

test('counts by state follow every insert, state change, delete and prune (no scan at read time)', (t) => {
  const store = tempStore(t);
  store.putTasks(Array.from({ length: 20 }, (_, i) => t0(0, i + 1, 'failed')));
  store.putTasks([t0(0, 21, 'pending')]);
  store.putTasks([{ ...t0(0, 21, 'running') }]);
  t.deepEqual(store.countTasksByState(), { failed: 20, running: 1 });
  store.pruneTaskHistory('web', 5);
  store.deleteTasks(['web.0.g21']);
  t.deepEqual(store.countTasksByState(), { failed: 5 });
});
