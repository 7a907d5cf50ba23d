/**
 * Several managers on etcd (issue 12), all real: a 3-member etcd cluster,
 * three `goat-cluster manager --etcd …` processes, `goat-cluster worker
 * --runtime process` processes, on loopback.
 *
 * - `kill -9` of the leader ten times in a row during scale-ups (half of the
 *   kills right after the leader acknowledged a `PATCH replicas`, before its
 *   tasks run; the others followed by a scale-up through the new leader): a
 *   new leader each time, the acknowledged count kept, nothing lost or
 *   duplicated (slots 0..n-1, one task per slot and generation, one process
 *   per task), no task restarted (same pids), no node declared down;
 * - a follower: `/readyz` 503 naming the leader, `goat-cluster managers` (a
 *   registered manager that never answers shows unhealthy), `goat_leader`/`goat_epoch`
 *   on each manager's `/metrics`, the managers in `/v1/tree`, its API forwards to the
 *   leader, a worker joined only to it ends up linked to the leader, a wrong
 *   token is 401;
 * - unreachable etcd endpoints at start: exit 1 with an error naming them.
 */
import test from 'ava';
import { Etcd3 } from 'etcd3';
import { createServer as createTcpServer } from 'node:net';
import { nanoid } from 'nanoid';
import { cli } from '../helpers/cli-process.js';
import { listen } from '../helpers/listen.js';
import { etcdTest, freePort } from '../helpers/etcd-cluster.js';
import { echoService, HaCluster, status, type HaNode as Node } from '../helpers/ha-cluster.js';
import { eventually, pidExists } from '../runtime/helpers/wait.js';

const etcd = etcdTest(test);
const TOKEN = `ha-token-${nanoid(12)}`;
const RUN = `goat-ha-${process.pid}-${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`;

const clusters: HaCluster[] = [];
test.after.always(async () => {
  await Promise.all(clusters.map((c) => c.cleanup()));
});

async function haCluster(managers: number): Promise<HaCluster> {
  const c = await HaCluster.create(TOKEN);
  clusters.push(c);
  for (let i = 0; i < managers; i++) await c.startManager(i);
  return c;
}

const echo = (name: string, replicas: number): unknown => echoService(RUN, name, replicas);

/** Rounds of leader kill -9 (the issue asks for ten in a row). */
const KILL_ROUNDS = 10;

etcd('kill -9 of the leader, again and again during scale-ups: a new leader each time, the acknowledged scale kept, nothing lost or duplicated, no task restarted (same pids), no node down', async (t) => {
  t.timeout(420_000);
  const c = await haCluster(3);
  let leader = await c.leader();
  c.startWorker('w1');
  c.startWorker('w2');
  await c.nodesReady(leader, 2);
  t.is((await c.api(leader, 'POST', '/v1/services', echo('web', 2))).status, 201);
  let tasks = await c.running(leader, 'web', 2);
  const before = await c.pids();
  const known = new Map(before);
  const failovers: number[] = [];
  const startedBeforeKill: string[] = [];
  const rounds = KILL_ROUNDS;
  for (let round = 0; round < rounds; round++) {
    const old = leader;
    const replicas = 3 + round;
    // Every other round (half of them) the leader dies right after acknowledging a scale-up, before its tasks run:
    // the new leader must keep the acknowledged count and place exactly the missing slots.
    const midScale = round % 2 === 0;
    if (midScale) {
      const scaled = await c.api<{ replicas: number }>(old, 'PATCH', '/v1/services/web', { replicas });
      t.is(scaled.status, 200, JSON.stringify(scaled.json));
      t.is(scaled.json.replicas, replicas);
    }
    const killedAt = Date.now();
    await old.proc.kill9();
    // How many of the new slots had a process already when the leader died (logged: the kill lands before most start).
    if (midScale) startedBeforeKill.push(`${[...(await c.pids()).keys()].filter((id) => !known.has(id)).length}/${replicas - tasks.length}`);
    leader = await c.leader(30_000);
    failovers.push(Date.now() - killedAt);
    t.not(leader.name, old.name);
    if (midScale) {
      const kept = await c.api<{ replicas: number }>(leader, 'GET', '/v1/services/web');
      t.is(kept.json.replicas, replicas, `round ${round}: the acknowledged replica count survived the failover`);
    } else {
      // Scale up through the new leader; the earlier tasks keep their processes.
      await eventually('scale accepted', async () => ((await c.api(leader, 'PATCH', '/v1/services/web', { replicas }).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 20_000, 200);
    }
    tasks = await c.running(leader, 'web', replicas);
    const all = await c.api<{ slot: number; generation: number; desired: string }[]>(leader, 'GET', '/v1/tasks?service=web');
    const now = await c.pids();
    // Nothing lost or duplicated: slots exactly 0..n-1, one task per slot and generation, one live process per task; every task seen before kept its pid.
    t.deepEqual(tasks.map((x) => x.slot).sort((a, b) => a - b), Array.from({ length: replicas }, (_, i) => i), `round ${round}`);
    const slotGens = all.json.map((x) => `${x.slot}/${x.generation}`);
    t.is(new Set(slotGens).size, slotGens.length, `round ${round}: no duplicated slot/generation: ${slotGens.join(' ')}`);
    t.is(all.json.filter((x) => x.desired === 'running').length, replicas, `round ${round}: nothing else meant to run`);
    t.is([...now].filter(([, pid]) => pidExists(pid)).length, replicas, `round ${round}: one process per task: ${JSON.stringify([...now])}`);
    for (const [id, pid] of known) if (tasks.some((x) => x.id === id)) t.is(now.get(id), pid, `task ${id} kept its process`);
    for (const [id, pid] of now) if (!known.has(id)) known.set(id, pid);
    t.true(tasks.every((x) => x.restarts === 0), 'no task restarted');
    const nodes = await c.api<Node[]>(leader, 'GET', '/v1/nodes');
    t.deepEqual(nodes.json.map((n) => n.status).filter((s) => s === 'down'), [], `no node declared down: ${JSON.stringify(nodes.json)}\n${c.workers.map((w) => w.proc.output.slice(-1500)).join('\n')}`);
    // Bring the killed manager back as a follower.
    await c.startManager(c.managers.indexOf(old));
  }
  const original = [...before.keys()];
  t.true(original.every((id) => tasks.some((x) => x.id === id)), 'the original tasks are still the ones running');
  // One `manager.leader` event per leadership, epochs growing.
  const events = await c.api<{ type: string; data: { epoch: number } }[]>(leader, 'GET', '/v1/events?since=0&limit=10000');
  const epochs = events.json.filter((e) => e.type === 'manager.leader').map((e) => e.data.epoch);
  t.is(epochs.length, rounds + 1, JSON.stringify(epochs));
  t.true(epochs.every((e, i) => i === 0 || e > epochs[i - 1]!), `epochs grow: ${epochs.join(', ')}`);
  t.log(`leader kill -9 → new leader ready: ${failovers.map((ms) => `${ms} ms`).join(', ')}`);
  t.log(`killed right after a scale-up's 200: new slots with a process at the kill ${startedBeforeKill.join(', ')}`);
});

etcd('a follower: /readyz 503 names the leader, its API forwards to the leader, a worker joined to it ends on the leader, a wrong token is 401', async (t) => {
  t.timeout(120_000);
  const c = await haCluster(2);
  const leader = await c.leader();
  const follower = c.managers.find((m) => m !== leader)!;
  const body = await eventually('the follower knows the leader', async () => {
    const ready = await fetch(`${follower.url}/readyz`);
    const b = (await ready.json()) as { role: string; leader: { url: string } | null };
    return ready.status === 503 && b.leader ? b : undefined;
  });
  t.is(body.role, 'follower');
  t.is(body.leader?.url, leader.url);
  // goat_leader / goat_epoch on each manager's own /metrics.
  const epoch = (body.leader as unknown as { epoch: number }).epoch;
  t.true(epoch > 0);
  const metricsOf = async (url: string): Promise<string> => (await fetch(`${url}/metrics`)).text();
  t.regex(await metricsOf(leader.url), new RegExp(`^goat_leader 1$[\\s\\S]*^goat_epoch ${epoch}$`, 'm'));
  t.regex(await metricsOf(follower.url), new RegExp(`^goat_leader 0$[\\s\\S]*^goat_epoch ${epoch}$`, 'm'));
  // The managers in /v1/tree: a `managers` node under the root, the leader with its epoch.
  const tree = await eventually('both managers in the tree', async () => {
    const r = await c.api<{ children?: { id: string; children?: { id: string; note?: string }[] }[] }>(leader, 'GET', '/v1/tree');
    const node = r.json.children?.find((x) => x.id === 'managers');
    return node?.children?.length === 2 ? node : undefined;
  });
  t.deepEqual(tree.children!.map((m) => m.note!.split('  ')[0]).sort(), [`follower`, `leader, epoch ${epoch}`]);
  // Writes and reads through the follower reach the leader.
  const created = await c.api<{ name: string }>(follower, 'POST', '/v1/services', echo('fwd', 1));
  t.is(created.status, 201, JSON.stringify(created.json));
  t.is((await c.api<{ name: string }[]>(leader, 'GET', '/v1/services')).json.map((s) => s.name).join(), 'fwd');
  t.is((await c.api(follower, 'GET', '/v1/services', undefined, 'wrong-token-xxxx')).status, 401);
  // A worker that knows only the follower is redirected to the leader and runs the task.
  const w = c.startWorker('only-follower', [follower.url]);
  await c.running(follower, 'fwd', 1);
  const nodes = await c.api<Node[]>(leader, 'GET', '/v1/nodes');
  t.true(nodes.json.some((n) => n.name === 'only-follower' && n.status === 'ready'));
  t.true(w.proc.alive);
  // `goat-cluster managers`: both real managers healthy; a registered manager that accepts connections but never
  // answers (as a SIGSTOPped one, whose key lives on until its lease expires) shows HEALTHY no.
  const paused = { id: 'paused-manager', url: await listen(t, createTcpServer(() => undefined)) }; // accepts, never answers
  const etcdClient = new Etcd3({ hosts: c.etcd.endpoints });
  t.teardown(() => etcdClient.close());
  await etcdClient.put(`goat/managers/${paused.id}`).value(JSON.stringify(paused));
  const managers = await cli(['managers', '--manager', `${follower.url},${leader.url}`, '--token', TOKEN]);
  t.is(managers.code, 0, managers.stderr);
  const rows = managers.stdout.trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/));
  const byUrl = new Map(rows.map((r) => [r[1], r]));
  t.deepEqual(byUrl.get(leader.url)?.slice(2), ['yes', String(epoch), 'yes'], managers.stdout);
  t.deepEqual(byUrl.get(follower.url)?.slice(2), ['no', '-', 'yes'], managers.stdout);
  t.deepEqual(byUrl.get(paused.url), [paused.id, paused.url, 'no', '-', 'no'], managers.stdout);
  await etcdClient.delete().key(`goat/managers/${paused.id}`);
  // A worker with a wrong token on the follower is refused (401) and never linked.
  const bad = c.startWorker('bad-token', [follower.url], 'wrong-token-xxxx');
  await eventually('the refusal is reported', () => /401/.test(bad.proc.output), 15_000);
  t.false((await c.api<Node[]>(leader, 'GET', '/v1/nodes')).json.some((n) => n.name === 'bad-token'));
});

etcd('unreachable etcd endpoints at start: a clear error naming them, exit 1', async (t) => {
  const [a, b] = [await freePort(), await freePort()];
  const endpoints = `http://127.0.0.1:${a},http://127.0.0.1:${b}`;
  const r = await cli(['manager', '--etcd', endpoints, '--data-dir', `/tmp/goat-ha-unreach-${process.pid}`, '--listen', `127.0.0.1:${await freePort()}`, '--token', TOKEN], 60_000);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /GOAT_ERR_STORE_UNREACHABLE|no etcd endpoint answered/);
  t.true(r.stderr.includes(`127.0.0.1:${a}`) && r.stderr.includes(`127.0.0.1:${b}`), r.stderr);
});

test('status helper answers 0 when nothing listens', async (t) => {
  t.is(await status(`http://127.0.0.1:${await freePort()}`, '/healthz'), 0);
});
