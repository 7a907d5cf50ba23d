/**
 * The etcd store on a real 3-member etcd cluster (loopback, temp dir):
 * every record round-trips through etcd (a fresh store loads what another
 * wrote), transactions roll back, a write is fenced by the leader key's create
 * revision (epoch), big writes are split within etcd's limits, heartbeat-only
 * node changes stay in memory, the event log stays bounded, a write by another
 * epoch (seen by the store's watch of the writer key) fences the store.
 */
import test from 'ava';
import { Etcd3 } from 'etcd3';
import { isGoatError } from '../../lib/errors.js';
import { ETCD_LIMITS, EtcdStore, openEtcdStore } from '../../lib/store/index.js';
import { coalesce, splitOps } from '../../lib/store/etcd.js';
import { EtcdCluster, etcdTest } from '../helpers/etcd-cluster.js';
import { node, service, slotHistory, task, tempStore } from './helpers.js';

const etcd = etcdTest(test);
let cluster: Promise<EtcdCluster> | undefined;
let client: Etcd3 | undefined;
let n = 0;

async function setup(): Promise<{ client: Etcd3; prefix: string; epoch: number; endpoints: string[] }> {
  cluster ??= EtcdCluster.start(3);
  const c = await cluster;
  client ??= new Etcd3({ hosts: c.endpoints });
  const prefix = `t${++n}`;
  const put = await client.kv.put({ key: Buffer.from(`${prefix}/leader`), value: Buffer.from('me') });
  return { client, prefix, epoch: Number(put.header.revision), endpoints: c.endpoints };
}

const opened: EtcdStore[] = [];
async function open(s: { client: Etcd3; prefix: string; epoch: number }, extra: { maxEvents?: number; onFenced?: () => void } = {}): Promise<EtcdStore> {
  const store = await openEtcdStore({ client: s.client, prefix: s.prefix, epoch: s.epoch, ...extra });
  opened.push(store);
  return store;
}

test.after.always(async () => {
  for (const store of opened) store.close(); // their writer watches
  client?.close();
  if (cluster) await (await cluster).stop();
});

etcd('listCurrentTasks reads what the SQLite store reads (live, newest per slot, created since)', async (t) => {
  const a = await open(await setup());
  const sqlite = tempStore(t);
  a.putTasks(slotHistory());
  sqlite.putTasks(slotHistory());
  for (const since of [0, 50, Number.MAX_SAFE_INTEGER]) t.deepEqual(a.listCurrentTasks('web', since), sqlite.listCurrentTasks('web', since), `since ${since}`);
  await a.committed();
});

etcd('the mirror\'s task indexes (by service, active, per state) answer as the SQLite store through state changes, deletes, pruning, a rolled-back transaction and a fresh load', async (t) => {
  const s = await setup();
  const a = await open(s);
  const sqlite = tempStore(t);
  const both = (f: (x: typeof sqlite | EtcdStore) => void): void => {
    f(a);
    f(sqlite);
  };
  const same = (x: EtcdStore, what: string): void => {
    t.deepEqual(x.countTasksByState(), sqlite.countTasksByState(), `${what}: counts`);
    t.deepEqual(x.listActiveTasks(), sqlite.listActiveTasks(), `${what}: active`);
    for (const svc of ['web', 'api', 'none']) {
      t.deepEqual(x.listTasks({ service: svc }), sqlite.listTasks({ service: svc }), `${what}: ${svc}`);
      t.deepEqual(x.listActiveTasks({ service: svc }), sqlite.listActiveTasks({ service: svc }), `${what}: ${svc} active`);
      for (const since of [0, 50]) t.deepEqual(x.listCurrentTasks(svc, since), sqlite.listCurrentTasks(svc, since), `${what}: ${svc} current since ${since}`);
    }
    t.deepEqual(x.listTasks({ state: 'failed' }), sqlite.listTasks({ state: 'failed' }), `${what}: failed`);
  };
  both((x) => x.putTasks(slotHistory()));
  same(a, 'loaded');
  // web/0's running task fails; web/2's pending one runs.
  const history = slotHistory();
  both((x) => x.putTasks([{ ...history[2]!, state: 'failed' }, { ...history[7]!, state: 'running' }]));
  same(a, 'state changes');
  both((x) => x.deleteTasks(['web.1.g1', 'api.0.g1']));
  same(a, 'deletes');
  t.deepEqual([a.pruneTaskHistory('web', 1), sqlite.pruneTaskHistory('web', 1)].map(Number), [3, 3]);
  same(a, 'pruned');
  t.throws(() => a.transaction(() => {
    a.putTasks([{ ...history[7]!, state: 'failed' }, { ...history[0]!, id: 'web.9.g1', slot: 9 }]);
    a.deleteTasks(['web.0.g3']);
    throw new Error('no');
  }));
  same(a, 'after a rolled-back transaction');
  await a.committed();
  same(await open(s), 'a fresh store loading it');
});

test('coalesce keeps the last write of each key; splitOps stays within 128 ops and the byte limit, in order', (t) => {
  t.deepEqual(coalesce([{ key: 'a', value: '1' }, { key: 'b', value: '1' }, { key: 'a', value: null }]), [{ key: 'b', value: '1' }, { key: 'a', value: null }]);
  const ops = Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: 'x' }));
  const parts = splitOps(ops);
  t.true(parts.every((p) => p.length < ETCD_LIMITS.opsPerTxn));
  t.deepEqual(parts.flat(), ops);
  const big = Array.from({ length: 5 }, (_, i) => ({ key: `b${i}`, value: 'y'.repeat(400_000) }));
  t.true(splitOps(big).every((p) => p.reduce((s, o) => s + (o.value?.length ?? 0), 0) <= ETCD_LIMITS.bytesPerTxn));
});

etcd('every record round-trips: a fresh store loads what the first committed', async (t) => {
  const s = await setup();
  const a = await open(s);
  t.false(a.pending);
  const v1 = a.putService(service('web', 2), 10);
  t.is(v1.version, 1);
  t.is(a.putService(service('web', 2), 11).version, 1, 'an identical spec is not a new version');
  t.is(a.putService(service('web', 3), 12).version, 2);
  a.putService(service('gone'), 1);
  t.true(a.deleteService('gone'));
  t.false(a.deleteService('gone'));
  a.putTasks([task('web', 0), task('web', 1, { node: 'n1', state: 'running' }), task('web', 2)]);
  a.deleteTasks(['web.2.abc2', 'nope']);
  a.putNode(node('n1'));
  const events = a.appendEvents([{ at: 1, type: 'x', subject: 's', data: { a: 1 } }, { at: 2, type: 'y', subject: 's', data: {} }]);
  t.deepEqual(events.map((e) => e.seq), [1, 2]);
  a.putIdempotency('k1', { bodyHash: 'h', status: 201, response: { ok: true } }, 1_000);
  a.setMeta('clusterId', 'c-1');
  t.true(a.pending, 'written, not yet in etcd');
  await a.committed();
  t.false(a.pending);

  const b = await open(s);
  t.deepEqual(b.listServices(), a.listServices());
  t.is(b.getService('web')?.version, 2);
  t.deepEqual(b.listTasks(), a.listTasks());
  t.deepEqual(b.listTasks({ node: 'n1' }).map((x) => x.id), ['web.1.abc1']);
  t.deepEqual(b.getNode('n1'), node('n1'));
  t.deepEqual(b.eventsSince(0), events);
  t.is(b.lastEventSeq(), 2);
  t.deepEqual(b.getIdempotency('k1', 500), { bodyHash: 'h', status: 201, response: { ok: true } });
  t.is(b.getIdempotency('k1', 1_000), undefined, 'expired');
  t.is(b.getMeta('clusterId'), 'c-1');
  t.true(b.file.startsWith('etcd://'));
});

etcd('a transaction that throws changes nothing, in memory or in etcd', async (t) => {
  const s = await setup();
  const a = await open(s);
  a.putService(service('web'), 1);
  t.throws(() => a.transaction(() => {
    a.putTasks([task('web', 0)]);
    a.deleteService('web');
    a.appendEvents([{ at: 1, type: 'x', subject: 's', data: {} }]);
    throw new Error('boom');
  }), { message: 'boom' });
  t.deepEqual(a.listTasks(), []);
  t.truthy(a.getService('web'));
  t.is(a.lastEventSeq(), 0);
  await a.committed();
  const b = await open(s);
  t.deepEqual(b.listTasks(), []);
  t.truthy(b.getService('web'));
  t.is(b.lastEventSeq(), 0);
});

etcd('a write of a deposed leader (the leader key re-created: a new epoch) is refused: nothing committed, later writes throw', async (t) => {
  const s = await setup();
  let fenced = 0;
  const a = await open(s, { onFenced: () => fenced++ });
  a.putService(service('web'), 1);
  await a.committed();
  // Another manager takes over: the leader key is deleted and created again.
  await s.client.delete().key(`${s.prefix}/leader`);
  await s.client.put(`${s.prefix}/leader`).value('other');
  a.putService(service('web', 9), 2);
  const err = await a.committed().then(() => undefined, (e: unknown) => e);
  t.true(isGoatError(err) && err.code === 'GOAT_ERR_NOT_READY', String(err));
  t.is(fenced, 1);
  t.throws(() => a.putTasks([task('web', 0)]), { message: /no longer the leader/ });
  const b = await open(s);
  t.is(b.getService('web')?.spec.replicas, service('web').replicas, 'the old epoch wrote nothing');
});

etcd('writes bigger than one etcd Txn are split (128 ops, ~1 MiB) and all land', async (t) => {
  const s = await setup();
  const a = await open(s);
  const tasks = Array.from({ length: 1_000 }, (_, i) => task('web', i));
  a.putTasks(tasks);
  a.transaction(() => {
    for (let i = 0; i < 6; i++) a.setMeta(`big${i}`, 'z'.repeat(400_000));
  });
  await a.committed();
  t.true(a.stats.txns >= 9, `txns: ${a.stats.txns}`);
  const b = await open(s);
  t.is(b.listTasks().length, 1_000);
  t.is(b.getMeta('big5')?.length, 400_000);
  t.throws(() => a.setMeta('huge', 'z'.repeat(2_000_000)), { message: /more than etcd takes/ });
  t.is(a.getMeta('huge'), undefined);
});

etcd('a node whose only change is usage or last-seen stays in memory; a status change is written', async (t) => {
  const s = await setup();
  const a = await open(s);
  a.putNode(node('n1'));
  await a.committed();
  const ops = a.stats.ops;
  for (let i = 0; i < 50; i++) a.putNode(node('n1', { lastSeenAt: 100 + i, usage: { tasks: i, memoryMb: i, cpuSeconds: i } }));
  t.false(a.pending);
  t.is(a.stats.ops, ops);
  t.is(a.getNode('n1')?.lastSeenAt, 149);
  a.putNode(node('n1', { status: 'down' }));
  await a.committed();
  t.is(a.stats.ops, ops + 1);
  t.is((await open(s)).getNode('n1')?.status, 'down');
});

etcd('the event log stays bounded; sequence numbers are never reused after a reload', async (t) => {
  const s = await setup();
  const a = await open(s, { maxEvents: 5 });
  for (let i = 0; i < 12; i++) a.appendEvents([{ at: i, type: 't', subject: 's', data: { i } }]);
  a.appendEvents(Array.from({ length: 3 }, (_, i) => ({ at: i, type: 'batch', subject: 's', data: {} })));
  await a.committed();
  t.deepEqual(a.eventsSince(0).map((e) => e.seq), [11, 12, 13, 14, 15]);
  const b = await open(s, { maxEvents: 5 });
  t.deepEqual(b.eventsSince(0).map((e) => e.seq), [11, 12, 13, 14, 15]);
  t.deepEqual(b.appendEvents([{ at: 1, type: 'x', subject: 's', data: {} }]).map((e) => e.seq), [16]);
  t.deepEqual(b.eventsSince(13, 1).map((e) => e.seq), [14]);
  // A thrown transaction whose appends trimmed the log puts the trimmed events back.
  t.throws(() => b.transaction(() => {
    b.appendEvents([{ at: 2, type: 'x', subject: 's', data: {} }, { at: 3, type: 'x', subject: 's', data: {} }]);
    b.appendEvents([{ at: 4, type: 'x', subject: 's', data: {} }]);
    throw new Error('boom');
  }), { message: 'boom' });
  t.deepEqual(b.eventsSince(0).map((e) => e.seq), [12, 13, 14, 15, 16]);
  t.is(b.lastEventSeq(), 16);
  await b.committed();
  const keys = await s.client.getAll().prefix(`${s.prefix}/d/e/`).keys();
  t.true(keys.length <= 5);
});

etcd('a store closed with writes in flight answers their waiters (GOAT_ERR_NOT_READY) instead of leaving them waiting', async (t) => {
  const s = await setup();
  const a = await open(s);
  a.putService(service('web'), 1);
  t.true(a.pending);
  const waiting = a.committed().then(() => 'committed', (e: unknown) => (isGoatError(e) ? e.code : String(e)));
  a.close();
  t.is(await waiting, 'GOAT_ERR_NOT_READY');
});

etcd('a write by another epoch, seen on the writer key from the load revision on, fences the store at once (before its own next write)', async (t) => {
  const s = await setup();
  let fenced = 0;
  const a = await open(s, { onFenced: () => fenced++ });
  a.putService(service('web'), 1);
  await a.committed();
  // Its own Txns (writer = its epoch) do not fence it.
  await new Promise((r) => setTimeout(r, 200));
  t.is(a.fenced, undefined);
  // Another leader's Txn (here: the writer key alone, the leader key untouched, so the Txn guard would not notice).
  await s.client.put(`${s.prefix}/writer`).value(String(s.epoch + 1000));
  const started = Date.now();
  while (!a.fenced && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 10));
  t.regex(a.fenced?.message ?? '', new RegExp(`epoch ${s.epoch + 1000} committed a write`));
  t.is(a.fenced?.code, 'GOAT_ERR_NOT_READY');
  t.is(fenced, 1);
  t.throws(() => a.putService(service('web', 5), 2), { message: /no longer the leader/ });

  // A write by another epoch between the load and the watch is caught too: the watch starts at the load revision + 1.
  const b = new EtcdStore({ client: s.client, prefix: s.prefix, epoch: s.epoch });
  opened.push(b);
  const revision = await b.load();
  await s.client.put(`${s.prefix}/writer`).value(String(s.epoch + 2000));
  await b.watchWriters(revision);
  const started2 = Date.now();
  while (!b.fenced && Date.now() - started2 < 10_000) await new Promise((r) => setTimeout(r, 10));
  t.regex(b.fenced?.message ?? '', new RegExp(`epoch ${s.epoch + 2000} committed a write`));
  // A store loaded after that write is not fenced by it.
  const c = await open(s);
  await new Promise((r) => setTimeout(r, 200));
  t.is(c.fenced, undefined);
});
