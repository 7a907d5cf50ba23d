/**
 * The SQLite store's operations on real files: round-trips of every record,
 * service versioning, task filters, transactions, the bounded event log,
 * Idempotency-Key expiry, metadata, and data surviving close/open.
 */
import test from 'ava';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { isGoatError } from '../../lib/errors.js';
import { openSqliteStore } from '../../lib/store/index.js';
import { node, service, task, tempDir, tempStore } from './helpers.js';

test('a missing file is created (with its directory), in WAL mode; store.file is the absolute path', (t) => {
  const dir = tempDir(t);
  const store = openSqliteStore(join(dir, 'sub', 'dir', 'goat.db'));
  t.teardown(() => store.close());
  t.is(store.file, join(dir, 'sub', 'dir', 'goat.db'));
  t.deepEqual(store.listServices(), []);
  const raw = new Database(store.file, { readonly: true });
  t.teardown(() => raw.close());
  t.is(raw.pragma('journal_mode', { simple: true }), 'wal');
});

test('services round-trip', (t) => {
  const store = tempStore(t);
  const spec = service('web');
  const rec = store.putService(spec, 100);
  t.deepEqual(rec, { name: 'web', spec, version: 1, createdAt: 100, updatedAt: 100 });
  t.deepEqual(store.getService('web'), rec);
  store.putService(service('api'), 101);
  t.deepEqual(store.listServices().map((s) => s.name), ['api', 'web']);
  t.is(store.getService('nope'), undefined);
  t.true(store.deleteService('web'));
  t.false(store.deleteService('web'));
  t.is(store.getService('web'), undefined);
});

test('putService: version 1 at creation, +1 only when the spec changed', (t) => {
  const store = tempStore(t);
  t.is(store.putService(service('web', 2), 1).version, 1);
  const same = store.putService(service('web', 2), 2);
  t.is(same.version, 1);
  t.is(same.updatedAt, 1, 'an identical spec is not an update');
  // Same content, keys in another order: still not a change.
  const s = service('web', 2);
  const reordered = { taskHistory: s.taskHistory, rollback: s.rollback, update: s.update, reschedule: s.reschedule, task: s.task, replicas: s.replicas, name: s.name };
  t.is(store.putService(reordered, 3).version, 1);
  const scaled = store.putService(service('web', 3), 4);
  t.is(scaled.version, 2);
  t.is(scaled.createdAt, 1);
  t.is(scaled.updatedAt, 4);
  t.is(store.putService(service('web', 3, 'goat/echo:2'), 5).version, 3);
  t.is(store.getService('web')?.version, 3);
  t.is(store.getService('web')?.spec.task.image, 'goat/echo:2');
});

test('tasks round-trip, upsert and delete', (t) => {
  const store = tempStore(t);
  const a = task('web', 0, {
    node: 'n1',
    state: 'running',
    lastExit: { code: 1, signal: null, oomKilled: false, message: 'exit 1', finishedAt: 9 },
    error: { code: 'GOAT_ERR_RESOURCE', message: 'no room' },
  });
  store.putTasks([a, task('web', 1)]);
  t.deepEqual(store.getTask(a.id), a);
  const moved = { ...a, node: 'n2', generation: 2, state: 'assigned' as const, updatedAt: 2000 };
  store.putTasks([moved]);
  t.deepEqual(store.getTask(a.id), moved);
  t.is(store.listTasks().length, 2);
  store.deleteTasks([a.id, 'no.such.task']);
  t.is(store.getTask(a.id), undefined);
  t.deepEqual(store.listTasks().map((x) => x.id), ['web.1.abc1']);
  t.notThrows(() => store.putTasks([]));
  t.notThrows(() => store.deleteTasks([]));
});

test('listTasks filters by service, state and node (together), ordered by service and slot', (t) => {
  const store = tempStore(t);
  store.putTasks([
    task('web', 1, { state: 'running', node: 'n1' }),
    task('web', 0, { state: 'running', node: 'n2' }),
    task('web', 2, { state: 'pending', node: null }),
    task('api', 0, { state: 'running', node: 'n1' }),
    task('api', 1, { state: 'failed', node: 'n2' }),
  ]);
  const ids = (f?: Parameters<typeof store.listTasks>[0]) => store.listTasks(f).map((x) => x.id);
  t.deepEqual(ids(), ['api.0.abc0', 'api.1.abc1', 'web.0.abc0', 'web.1.abc1', 'web.2.abc2']);
  t.deepEqual(ids({ service: 'web' }), ['web.0.abc0', 'web.1.abc1', 'web.2.abc2']);
  t.deepEqual(ids({ state: 'running' }), ['api.0.abc0', 'web.0.abc0', 'web.1.abc1']);
  t.deepEqual(ids({ node: 'n1' }), ['api.0.abc0', 'web.1.abc1']);
  t.deepEqual(ids({ service: 'web', state: 'running' }), ['web.0.abc0', 'web.1.abc1']);
  t.deepEqual(ids({ service: 'api', state: 'running', node: 'n2' }), []);
  t.deepEqual(ids({ state: 'pending' }), ['web.2.abc2']);
  t.deepEqual(ids({ service: undefined }), ids(), 'an undefined field is no filter');
  // The indexed columns follow an update.
  store.putTasks([task('web', 2, { state: 'running', node: 'n1' })]);
  t.deepEqual(ids({ node: 'n1', state: 'running' }), ['api.0.abc0', 'web.1.abc1', 'web.2.abc2']);
});

test('nodes round-trip and upsert', (t) => {
  const store = tempStore(t);
  const n1 = node('n1');
  store.putNode(node('n2', { status: 'suspect' }));
  store.putNode(n1);
  t.deepEqual(store.getNode('n1'), n1);
  t.deepEqual(store.listNodes().map((n) => n.id), ['n1', 'n2']);
  store.putNode({ ...n1, status: 'draining', usage: { tasks: 3, memoryMb: 10, cpuSeconds: 1.5 } });
  t.is(store.getNode('n1')?.status, 'draining');
  t.is(store.getNode('n1')?.usage.cpuSeconds, 1.5);
  t.is(store.getNode('nope'), undefined);
});

test('a transaction commits all its writes together, and none when it throws', (t) => {
  const store = tempStore(t);
  const out = store.transaction(() => {
    store.putService(service('web'), 1);
    store.putTasks([task('web', 0)]);
    return 42;
  });
  t.is(out, 42);
  const err = t.throws(() =>
    store.transaction(() => {
      store.putService(service('web', 5), 2);
      store.putTasks([task('web', 1)]);
      store.putNode(node('n1'));
      store.appendEvents([{ at: 2, type: 'service.updated', subject: 'web', data: {} }]);
      store.setMeta('k', 'v');
      store.deleteTasks(['web.0.abc0']);
      throw new Error('boom');
    }),
  );
  t.is(err?.message, 'boom');
  t.is(store.getService('web')?.version, 1);
  t.is(store.getService('web')?.spec.replicas, 2);
  t.deepEqual(store.listTasks().map((x) => x.id), ['web.0.abc0']);
  t.deepEqual(store.listNodes(), []);
  t.is(store.lastEventSeq(), 0);
  t.is(store.getMeta('k'), undefined);
});

test('a nested transaction that throws rolls back only itself when the outer one catches', (t) => {
  const store = tempStore(t);
  store.transaction(() => {
    store.setMeta('outer', '1');
    try {
      store.transaction(() => {
        store.setMeta('inner', '1');
        throw new Error('inner');
      });
    } catch {
      // handled
    }
  });
  t.is(store.getMeta('outer'), '1');
  t.is(store.getMeta('inner'), undefined);
});

test('a transaction refuses an async function', (t) => {
  const store = tempStore(t);
  t.throws(() => store.transaction(async () => store.setMeta('k', 'v')));
  t.is(store.getMeta('k'), undefined);
});

test('events: increasing seq, bounded to maxEvents (oldest dropped), seq continues', (t) => {
  const store = tempStore(t, { maxEvents: 10 });
  t.is(store.lastEventSeq(), 0);
  const first = store.appendEvents([{ at: 1, type: 'task.state', subject: 'web.0.x', data: { to: 'running', n: [1, 2] } }]);
  t.deepEqual(first, [{ seq: 1, at: 1, type: 'task.state', subject: 'web.0.x', data: { to: 'running', n: [1, 2] } }]);
  for (let i = 2; i <= 25; i++) store.appendEvents([{ at: i, type: 'node.status', subject: `n${i}`, data: { i } }]);
  t.is(store.lastEventSeq(), 25);
  const all = store.eventsSince(0);
  t.is(all.length, 10);
  t.deepEqual(all.map((e) => e.seq), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
  t.deepEqual(all[0], { seq: 16, at: 16, type: 'node.status', subject: 'n16', data: { i: 16 } });
  // A batch larger than the bound keeps its newest events.
  const batch = store.appendEvents(Array.from({ length: 12 }, (_, i) => ({ at: 100 + i, type: 'x', subject: 's', data: {} })));
  t.deepEqual(batch.map((e) => e.seq), Array.from({ length: 12 }, (_, i) => 26 + i));
  t.deepEqual(store.eventsSince(0).map((e) => e.seq), Array.from({ length: 10 }, (_, i) => 28 + i));
  t.deepEqual(store.appendEvents([]), []);
});

test('eventsSince: after a seq, oldest first, with a limit', (t) => {
  const store = tempStore(t);
  store.appendEvents(Array.from({ length: 5 }, (_, i) => ({ at: i, type: 't', subject: 's', data: { i } })));
  t.deepEqual(store.eventsSince(2).map((e) => e.seq), [3, 4, 5]);
  t.deepEqual(store.eventsSince(0, 2).map((e) => e.seq), [1, 2]);
  t.deepEqual(store.eventsSince(3, 10).map((e) => e.seq), [4, 5]);
  t.deepEqual(store.eventsSince(5), []);
  t.deepEqual(store.eventsSince(0, 0), []);
  t.true(isGoatError(t.throws(() => store.eventsSince(0, -1)), 'GOAT_ERR_INVALID_SPEC'));
});

test('event seq never goes back after a reopen, even once old events were dropped', (t) => {
  const file = join(tempDir(t), 'goat.db');
  let store = openSqliteStore(file, { maxEvents: 3 });
  store.appendEvents(Array.from({ length: 7 }, (_, i) => ({ at: i, type: 't', subject: 's', data: {} })));
  store.close();
  store = openSqliteStore(file, { maxEvents: 3 });
  t.teardown(() => store.close());
  t.is(store.lastEventSeq(), 7);
  t.deepEqual(store.appendEvents([{ at: 9, type: 't', subject: 's', data: {} }]).map((e) => e.seq), [8]);
  t.deepEqual(store.eventsSince(0).map((e) => e.seq), [6, 7, 8]);
});

test('maxEvents must be a positive integer', (t) => {
  const dir = tempDir(t);
  for (const maxEvents of [0, -1, 1.5, Number.NaN]) {
    const err = t.throws(() => openSqliteStore(join(dir, 'x.db'), { maxEvents }));
    t.true(isGoatError(err, 'GOAT_ERR_INVALID_SPEC'), String(maxEvents));
  }
});

test('idempotency: stored until it expires, then gone; prune deletes the expired ones', (t) => {
  const store = tempStore(t);
  const rec = { bodyHash: 'h1', status: 201, response: { name: 'web', version: 1, tags: ['a'] } };
  store.putIdempotency('k1', rec, 1000);
  store.putIdempotency('k2', { bodyHash: 'h2', status: 200, response: undefined }, 2000);
  store.putIdempotency('k3', { bodyHash: 'h3', status: 409, response: 'text' }, 3000);
  t.deepEqual(store.getIdempotency('k1', 999), rec);
  t.is(store.getIdempotency('k1', 1000), undefined, 'expired at expiresAt');
  t.deepEqual(store.getIdempotency('k2', 0), { bodyHash: 'h2', status: 200, response: null });
  t.is(store.getIdempotency('nope', 0), undefined);
  t.is(store.pruneIdempotency(2000), 2);
  t.is(store.getIdempotency('k1', 0), undefined, 'pruned rows are gone even for an earlier now');
  t.is(store.getIdempotency('k2', 0), undefined);
  t.is(store.getIdempotency('k3', 2000)?.response, 'text');
  t.is(store.pruneIdempotency(2000), 0);
  // Replacing a key replaces its result and expiry.
  store.putIdempotency('k3', { bodyHash: 'h4', status: 200, response: 1 }, 5000);
  t.deepEqual(store.getIdempotency('k3', 4000), { bodyHash: 'h4', status: 200, response: 1 });
});

test('meta round-trips', (t) => {
  const store = tempStore(t);
  t.is(store.getMeta('cluster'), undefined);
  store.setMeta('cluster', 'c1');
  store.setMeta('cluster', 'c2');
  t.is(store.getMeta('cluster'), 'c2');
});

test('close, reopen: everything is still there', (t) => {
  const file = join(tempDir(t), 'goat.db');
  let store = openSqliteStore(file);
  store.putService(service('web'), 1);
  store.putTasks([task('web', 0, { node: 'n1', state: 'running' })]);
  store.putNode(node('n1'));
  store.appendEvents([{ at: 1, type: 't', subject: 's', data: { a: 1 } }]);
  store.putIdempotency('k', { bodyHash: 'h', status: 201, response: { ok: true } }, 10);
  store.setMeta('cluster', 'c1');
  store.close();
  store.close(); // idempotent
  store = openSqliteStore(file);
  t.teardown(() => store.close());
  t.is(store.getService('web')?.version, 1);
  t.deepEqual(store.getTask('web.0.abc0'), task('web', 0, { node: 'n1', state: 'running' }));
  t.deepEqual(store.getNode('n1'), node('n1'));
  t.deepEqual(store.eventsSince(0), [{ seq: 1, at: 1, type: 't', subject: 's', data: { a: 1 } }]);
  t.deepEqual(store.getIdempotency('k', 0), { bodyHash: 'h', status: 201, response: { ok: true } });
  t.is(store.getMeta('cluster'), 'c1');
});

test('a closed store refuses work', (t) => {
  const store = tempStore(t);
  store.close();
  t.throws(() => store.listServices());
});
