/**
 * Several managers on etcd (issue 12) under faults, all real: a 3-member etcd
 * cluster, three `goat-cluster manager --etcd …` processes and two
 * `goat-cluster worker --runtime process` processes on loopback.
 *
 * - SIGSTOP of the leader past its lease, then SIGCONT: another leads
 *   meanwhile; nothing is committed with the old epoch once the new leader
 *   won (every etcd Txn of a leader also writes its epoch to
 *   `<prefix>/writer`, watched here); the old one steps down, forwards, and
 *   the workers keep the new epoch; no task restarted.
 * - etcd's own leader killed: Goat keeps its leader or fails over cleanly;
 *   with that member still down, a Goat leader kill -9 fails over too and
 *   everything works on the two members left.
 * - Two of three etcd members stopped for 30 s: the Goat leader steps down
 *   within the lease, writes get 503, reads say they may be stale, tasks are
 *   untouched; members back → a leader serves writes again by itself.
 *
 * The tests run one after the other (each is a whole cluster with timing
 * that matters: leases of 3 s).
 */
import test from 'ava';
import { Etcd3 } from 'etcd3';
import { nanoid } from 'nanoid';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cli } from '../helpers/cli-process.js';
import { etcdTest } from '../helpers/etcd-cluster.js';
import { echoService, HaCluster, status, type HaManagerHandle, type HaNode } from '../helpers/ha-cluster.js';
import { eventually, pidExists } from '../runtime/helpers/wait.js';

const etcd = etcdTest(test.serial as unknown as typeof test);
const TOKEN = `ha-token-${nanoid(12)}`;
const RUN = `goat-haf-${process.pid}-${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`;
const echo = (name: string, replicas: number): unknown => echoService(RUN, name, replicas);

/** Beyond the lease, how late the leader may step down once quorum is lost (a loaded 2-core machine). */
const QUORUM_STEP_DOWN_SLACK_MS = 1_000;

/** How long two of three etcd members stay stopped (the 30 s). */
const QUORUM_LOST_MS = 30_000;

const clusters: HaCluster[] = [];
test.after.always(async () => {
  await Promise.all(clusters.map((c) => c.cleanup()));
});

/** 3 managers, 2 workers, service `web` with 2 running tasks; their pids. */
async function setup(): Promise<{ c: HaCluster; leader: HaManagerHandle; before: Map<string, number> }> {
  const c = await HaCluster.create(TOKEN);
  clusters.push(c);
  for (let i = 0; i < 3; i++) await c.startManager(i);
  const leader = await c.leader();
  // The leader's URL first: after it is gone, a worker's rotation comes back to it (a paused one hangs a connect).
  const urls = [leader.url, ...c.managers.filter((m) => m !== leader).map((m) => m.url)];
  c.startWorker('w1', urls);
  c.startWorker('w2', urls);
  await c.nodesReady(leader, 2);
  const created = await c.api(leader, 'POST', '/v1/services', echo('web', 2));
  if (created.status !== 201) throw new Error(`create web: ${created.status} ${JSON.stringify(created.json)}`);
  await c.running(leader, 'web', 2);
  return { c, leader, before: await c.pids() };
}

/** The leader's epoch as `/v1/managers` shows it. */
async function epochOf(c: HaCluster, m: HaManagerHandle): Promise<number> {
  return eventually('the leader in /v1/managers', async () => {
    const r = await c.api<{ leader: boolean; epoch: number | null }[]>(m, 'GET', '/v1/managers').catch(() => undefined);
    return r?.status === 200 ? (r.json.find((x) => x.leader)?.epoch ?? undefined) : undefined;
  });
}

/** Scales `web` through `m` (retried while a leader is being elected), then waits for the tasks. */
async function scale(c: HaCluster, m: HaManagerHandle, replicas: number): Promise<void> {
  await eventually(`scale to ${replicas} accepted`, async () => ((await c.api(m, 'PATCH', '/v1/services/web', { replicas }).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 30_000, 200);
  await c.running(m, 'web', replicas);
}

/** The tasks of `before` still run in the same processes, none restarted, no node down. */
async function untouched(t: import('ava').ExecutionContext, c: HaCluster, m: HaManagerHandle, before: Map<string, number>): Promise<void> {
  const now = await c.pids();
  for (const [id, pid] of before) {
    t.is(now.get(id), pid, `task ${id} kept its process`);
    t.true(pidExists(pid), `task ${id}'s process ${pid} is alive`);
  }
  const tasks = await c.api<{ id: string; restarts: number }[]>(m, 'GET', '/v1/tasks?service=web');
  t.true(tasks.json.every((x) => x.restarts === 0), `no task restarted: ${JSON.stringify(tasks.json)}`);
  const nodes = await c.api<HaNode[]>(m, 'GET', '/v1/nodes');
  t.deepEqual(nodes.json.filter((n) => n.status === 'down').map((n) => n.name), [], 'no node declared down');
}

etcd('SIGSTOP of the leader past its lease, then SIGCONT: another leads meanwhile; nothing is committed with the old epoch; it steps down; workers keep the new epoch', async (t) => {
  t.timeout(180_000);
  const { c, leader: old, before } = await setup();
  const oldEpoch = await epochOf(c, old);
  c.pause(old, 'SIGSTOP');
  const leader = await c.leader(30_000);
  t.not(leader.name, old.name);
  const newEpoch = await epochOf(c, leader);
  t.true(newEpoch > oldEpoch, `epochs grow: ${oldEpoch} → ${newEpoch}`);
  // Another leads meanwhile: a scale-up through it; the workers follow it.
  await scale(c, leader, 3);
  await c.nodesReady(leader, 2);
  // Every Txn committed from the new leader's election on, and which epoch wrote it.
  const client = new Etcd3({ hosts: c.etcd.endpoints });
  t.teardown(() => client.close());
  const writers: { epoch: number; revision: number }[] = [];
  const watcher = await client.watch().key('goat/writer').startRevision(String(newEpoch)).create();
  t.teardown(() => watcher.cancel());
  watcher.on('put', (kv) => writers.push({ epoch: Number(kv.value.toString()), revision: Number(kv.mod_revision) }));
  c.pause(old, 'SIGCONT');
  // Awake, its timers (liveness checks, sweeps) fire with a stale view; it steps down at its first election tick.
  await eventually('the old leader steps down', () => /stepped down/.test(old.proc.output), 15_000);
  const ready = await eventually('the old leader names the new one', async () => {
    const r = await fetch(`${old.url}/readyz`).catch(() => undefined);
    const body = r ? ((await r.json()) as { role?: string; leader?: { id: string; url: string } | null }) : undefined;
    return r?.status === 503 && body?.leader ? body : undefined;
  }, 15_000);
  t.is(ready.role, 'follower');
  t.is(ready.leader?.url, leader.url);
  // Its API now forwards to the new leader.
  const patched = await c.api(old, 'PATCH', '/v1/services/web', { replicas: 4 });
  t.is(patched.status, 200);
  t.is(patched.headers.get('x-goat-forwarded-to'), leader.url);
  await c.running(leader, 'web', 4);
  // Nothing was committed with the old epoch since the new leader won.
  const last = Number((await client.kv.range({ key: Buffer.from('goat/writer') })).kvs[0]?.mod_revision ?? 0);
  await eventually('the watch caught up', () => writers.some((w) => w.revision >= last), 10_000);
  t.true(writers.length > 0);
  t.deepEqual(writers.filter((w) => w.epoch !== newEpoch), [], `every Txn since revision ${newEpoch} is the new leader's`);
  // The workers keep the highest epoch they saw: the new one (they refuse the old one's commands).
  for (const w of c.workers) t.is(Number((await readFile(join(w.dataDir, 'epoch'), 'utf8')).trim()), newEpoch, `${w.name}'s epoch`);
  await untouched(t, c, leader, before);
});

etcd('etcd\'s leader killed: Goat keeps its leader or fails over cleanly; with that member down, a Goat failover works too', async (t) => {
  t.timeout(180_000);
  const { c, leader, before } = await setup();
  const { i } = await eventually('etcd\'s leader', () => {
    const x = c.etcd.leaderIndex();
    return x === undefined ? undefined : { i: x }; // member 0 is a leader too
  });
  await c.etcd.signalMember(i, 'SIGKILL');
  const after = await c.leader(30_000);
  t.log(after === leader ? 'Goat kept its leader' : `Goat failed over to ${after.name}`);
  await scale(c, after, 3);
  await untouched(t, c, after, before);
  // One member lost: everything still works — a Goat leader kill -9 included.
  await after.proc.kill9();
  const next = await c.leader(30_000);
  t.not(next.name, after.name);
  await scale(c, next, 4);
  await c.nodesReady(next, 2);
  await untouched(t, c, next, before);
});

etcd('two of three etcd members stopped for 30 s: the leader steps down within the lease, writes 503, reads say stale, tasks untouched; members back → writes again', async (t) => {
  t.timeout(240_000);
  const { c, leader, before } = await setup();
  // SIGKILL: both members gone at once. A SIGTERM'd etcd shuts down gracefully (a Raft leader first hands its
  // leadership over), so for a moment the two could still make a quorum: enough for another manager to win an
  // election and lead until they are gone — a real outcome, but not the one this case is about.
  const lostAt = Date.now();
  await Promise.all([c.etcd.signalMember(1, 'SIGKILL'), c.etcd.signalMember(2, 'SIGKILL')]);
  // The leader steps down within the lease: its manager tree stopped, its follower server answers /readyz 503.
  // Only the leader is polled here (the others were followers all along), so that the figure is its own.
  await eventually('the leader a follower', async () => ((await status(leader.url, '/readyz')) === 503 ? true : undefined), 4 * c.leaseTtlMs, 50);
  const downMs = Date.now() - lostAt;
  t.log(`quorum lost → no leader after ${downMs} ms (lease ${c.leaseTtlMs} ms)`);
  // It stops acting at 2/3 of the lease (before the lease could expire under it); the slack covers the tree's stop
  // and a loaded 2-core machine (measured: see the log line above).
  t.true(downMs <= c.leaseTtlMs + QUORUM_STEP_DOWN_SLACK_MS, `stepped down after ${downMs} ms, lease ${c.leaseTtlMs} ms`);
  for (const m of c.managers) t.is(await status(m.url, '/readyz'), 503, `${m.name} is a follower`);
  // Writes: 503 with Retry-After, through any manager.
  const write = await c.api<{ error: { code: string } }>(leader, 'PATCH', '/v1/services/web', { replicas: 3 });
  t.is(write.status, 503);
  t.is(write.json.error.code, 'GOAT_ERR_NOT_READY');
  t.truthy(write.headers.get('retry-after'));
  // Reads are answered, saying they may be stale.
  const read = await c.api<{ id: string; state: string }[]>(leader, 'GET', '/v1/tasks?service=web');
  t.is(read.status, 200);
  t.is(read.headers.get('goat-stale'), 'true');
  t.deepEqual(read.json.map((x) => x.id).sort(), [...before.keys()].sort());
  const ready = (await (await fetch(`${leader.url}/readyz`)).json()) as { stale?: boolean };
  t.true(ready.stale, '/readyz says reads may be stale');
  // The CLI answers reads and says they may be stale.
  const ps = await cli(['ps', '--manager', c.managers.map((m) => m.url).join(','), '--token', TOKEN]);
  t.is(ps.code, 0, ps.stderr);
  t.regex(ps.stderr, /may be stale/);
  for (const id of before.keys()) t.true(ps.stdout.includes(id), ps.stdout);
  // Tasks untouched for the whole outage.
  while (Date.now() - lostAt < QUORUM_LOST_MS) {
    for (const pid of before.values()) t.true(pidExists(pid), `task process ${pid} alive during the outage`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  t.is((await c.pids()).size, before.size, 'no task started during the outage');
  // Members back: a leader serves writes again without a person.
  c.etcd.startMember(1);
  c.etcd.startMember(2);
  const back = await c.leader(60_000);
  await scale(c, back, 3);
  const fresh = await c.api(back, 'GET', '/v1/tasks?service=web');
  t.not(fresh.headers.get('goat-stale'), 'true');
  await untouched(t, c, back, before);
});
