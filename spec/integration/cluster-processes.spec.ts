/**
 * The scenarios of spec/manager/cluster.spec.ts with real processes on
 * loopback: one `goat-cluster manager` and three `goat-cluster worker
 * --runtime process`, driven through the CLI (`run`, `scale`, `stop`,
 * `drain`, `ps|services|nodes --json`) and the HTTP API, asserting what a
 * user sees. The task program is images/echo/server.js, given a marker
 * argument per service so its processes can be counted and cleaned up.
 * A second cluster (manager + one docker worker) runs the echo image when a
 * Docker engine answers (in CI it must).
 */
import test from 'ava';
import { nanoid } from 'nanoid';
import WebSocket from 'ws';
import { LINK_CLOSE } from '../../transport/close-codes.js';
import { ProcessCluster, liveArgv, processRecords, type ProcessRecordView } from '../helpers/cli-process.js';
import { livePidsWithArgs } from '../helpers/worker-process.js';
import { docker, imageBuilder, requireEngine, runDockerTests } from '../runtime/helpers/docker.js';
import { freePort, post } from '../runtime/helpers/net.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';
import { quiescent } from '../helpers/quiescent.js';

const TOKEN = `it-token-${nanoid(12)}`;
const RUN = `goat-it-${process.pid}-${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`;
const HELLO = '{"Msg":"Hello, world!"}';

interface Task { id: string; service: string; slot: number; generation: number; node: string | null; state: string; desired: string; restarts: number }
interface Service { name: string; replicas: number; version: number; createdAt: number }
interface Node { id: string; name: string; status: string; lastSeenAt: number }

let a: ProcessCluster;
let b: ProcessCluster | undefined;

/** The marker argument of a service's echo processes. */
const marker = (service: string): string => `${RUN}-${service}`;

/** `run NAME --command "node server.js MARKER" -e PORT=0 …`: PORT=0 lets the OS pick each replica's port. */
async function runEcho(c: ProcessCluster, service: string, ...extra: string[]) {
  c.markers.add(marker(service));
  return c.cli('run', service, '--command', `node "${ECHO_SERVER}" ${marker(service)}`, ...extra, '--json');
}

/** Live echo processes of a service (by its marker). */
const echoPids = (service: string): Promise<number[]> => livePidsWithArgs(ECHO_SERVER, marker(service));

async function tasks(c: ProcessCluster, service: string): Promise<Task[]> {
  return (await c.api<Task[]>('GET', `/v1/tasks?service=${service}`)).json;
}
const isRunning = (t: Task): boolean => t.state === 'running' && t.desired === 'running';

/** Waits until exactly `n` tasks of the service run (through the API) and exactly `n` echo processes live. */
async function settle(c: ProcessCluster, service: string, n: number, timeoutMs = 20_000): Promise<Task[]> {
  return eventually(`${n} running tasks and ${n} processes of ${service}`, async () => {
    const all = await tasks(c, service);
    const running = all.filter(isRunning);
    const pending = all.filter((t) => t.desired === 'running' && !isRunning(t));
    return running.length === n && pending.length === 0 && (await echoPids(service)).length === n ? running : undefined;
  }, timeoutMs, 100);
}

/** Live process records (the worker's own view on disk) of a service on each worker, by worker name. */
async function liveRecords(c: ProcessCluster, service: string): Promise<Map<string, ProcessRecordView[]>> {
  const out = new Map<string, ProcessRecordView[]>();
  for (const w of c.workers) {
    const live: ProcessRecordView[] = [];
    for (const r of await processRecords(w.dataDir)) {
      if (r.service === service && !r.exit && (await liveArgv(r.pid))?.includes(marker(service))) live.push(r);
    }
    out.set(w.name, live);
  }
  return out;
}

async function nodes(c: ProcessCluster): Promise<Node[]> {
  return (await c.api<Node[]>('GET', '/v1/nodes')).json;
}

/** Waits until the named workers are linked: `ready` and heard from (a heartbeat) after `since`. */
async function linked(c: ProcessCluster, names: string[], since: number, timeoutMs = 20_000): Promise<Node[]> {
  return eventually(`${names.join(', ')} linked`, async () => {
    const ns = await nodes(c).catch(() => []);
    const mine = names.map((n) => ns.find((x) => x.name === n));
    return mine.every((n) => n && n.status === 'ready' && n.lastSeenAt > since) ? (mine as Node[]) : undefined;
  }, timeoutMs, 100);
}

/** Opens a raw link with `token`; resolves with how it ended (close code, or the HTTP status of a refused upgrade). */
function rawLink(c: ProcessCluster, token: string, send: (ws: WebSocket) => void): Promise<{ code?: number; status?: number; frames: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${c.port}/v1/link`, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    const frames: string[] = [];
    const timer = setTimeout(() => reject(new Error('the raw link was neither closed nor refused within 10 s')), 10_000);
    ws.on('open', () => send(ws));
    ws.on('message', (d) => frames.push(String(d)));
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      resolve({ status: res.statusCode ?? 0, frames });
      ws.terminate();
    });
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, frames });
    });
  });
}

async function startCluster(c: ProcessCluster, names: string[], runtime: 'process' | 'docker'): Promise<void> {
  const since = Date.now();
  await c.startManager();
  for (const n of names) c.startWorker(n, { runtime });
  await linked(c, names, since, 30_000);
}

test.before(async () => {
  a = await ProcessCluster.create(await freePort(), TOKEN);
  const started = [startCluster(a, ['w1', 'w2', 'w3'], 'process')];
  if (runDockerTests) {
    requireEngine();
    b = await ProcessCluster.create(await freePort(), TOKEN);
    const bc = b;
    started.push((async () => {
      await (await imageBuilder()).buildImages({ docker, apps: ['echo'] });
      await startCluster(bc, ['wd'], 'docker');
    })());
  }
  await Promise.all(started);
});

test.after.always(async () => {
  const dockerNodes = b ? (await nodes(b).catch(() => [])).map((n) => n.id) : [];
  await Promise.all([a?.cleanup(), b?.cleanup()]);
  for (const id of dockerNodes) {
    const cs = await docker.listContainers({ all: true, filters: { label: [`goat.node=${id}`] } });
    await Promise.all(cs.map((x) => docker.getContainer(x.Id).remove({ force: true }).catch(() => undefined)));
  }
});

test.serial('a 3-replica service spreads over the three workers; scale up and down; stop', async (t) => {
  const created = await runEcho(a, 'spread', '--replicas', '3', '-e', 'PORT=0');
  t.is(created.code, 0, created.stderr);
  t.like(JSON.parse(created.stdout), { name: 'spread', replicas: 3, version: 1 });

  await settle(a, 'spread', 3);
  const ps = await a.cliJson<Task[]>('ps', '--service', 'spread');
  t.is(ps.length, 3);
  t.true(ps.every((x) => x.state === 'running' && x.restarts === 0 && x.generation === 1));
  t.deepEqual(ps.map((x) => x.slot).sort(), [0, 1, 2]);
  const ns = await a.cliJson<Node[]>('nodes');
  t.is(new Set(ps.map((x) => x.node)).size, 3, 'one replica per node');
  t.deepEqual(ps.map((x) => ns.find((n) => n.id === x.node)?.name).sort(), ['w1', 'w2', 'w3']);
  for (const [name, live] of await liveRecords(a, 'spread')) t.is(live.length, 1, `one echo process on ${name}`);
  const services = await a.cliJson<Service[]>('services');
  t.like(services.find((s) => s.name === 'spread'), { replicas: 3 });

  const up = await a.cli('scale', 'spread', '5');
  t.is(up.code, 0, up.stderr);
  t.regex(up.stdout, /service spread: 5 replica\(s\)/);
  const five = await settle(a, 'spread', 5);
  t.deepEqual(five.map((x) => x.slot).sort(), [0, 1, 2, 3, 4]);
  t.is(new Set(five.map((x) => x.node)).size, 3, 'five replicas still use the three nodes');

  t.is((await a.cli('scale', 'spread', '1')).code, 0);
  const one = await settle(a, 'spread', 1);
  t.is((await a.cliJson<Task[]>('ps', '--service', 'spread')).length, 1);
  t.is(one[0]!.slot, 0, 'scaling down keeps the lowest slot');

  const stopped = await a.cli('stop', 'spread');
  t.is(stopped.code, 0, stopped.stderr);
  t.regex(stopped.stdout, /service spread stopped/);
  await settle(a, 'spread', 0);
  t.deepEqual(await a.cliJson<Task[]>('ps', '--service', 'spread'), []);
  t.false((await a.cliJson<Service[]>('services')).some((s) => s.name === 'spread'));
  t.is((await a.api('GET', '/v1/services/spread')).status, 404);
});

test.serial('the seed echo service answers through the cluster (process runtime, -p HOST:7777)', async (t) => {
  const port = await freePort();
  const created = await runEcho(a, 'echo', '-p', `${port}:7777`);
  t.is(created.code, 0, created.stderr);
  const [task] = await settle(a, 'echo', 1);
  t.deepEqual(await post(port, HELLO), { status: 200, text: HELLO });
  t.like(task, { service: 'echo', slot: 0, generation: 1, state: 'running', restarts: 0 });
  const one = (await a.api<Record<string, unknown>>('GET', `/v1/tasks/${task!.id}`)).json;
  for (const field of ['id', 'service', 'slot', 'generation', 'node', 'state', 'restarts', 'lastExit', 'createdAt', 'updatedAt']) t.true(field in one, field);
  t.is((await a.cli('stop', 'echo')).code, 0);
  await settle(a, 'echo', 0);
  await t.throwsAsync(post(port, HELLO, 500), undefined, 'nothing answers on the port once stopped');
});

test.serial('a retried POST with the same Idempotency-Key makes one service; another body with that key gets 409', async (t) => {
  const key = `key-${RUN}`;
  const first = await runEcho(a, 'once', '-e', 'PORT=0', '--idempotency-key', key);
  const retry = await runEcho(a, 'once', '-e', 'PORT=0', '--idempotency-key', key);
  t.is(first.code, 0, first.stderr);
  t.is(retry.code, 0, retry.stderr);
  t.deepEqual(JSON.parse(retry.stdout), JSON.parse(first.stdout), 'the retry gets the original answer');
  t.like(JSON.parse(first.stdout) as Service, { name: 'once', replicas: 1, version: 1 });

  const other = await runEcho(a, 'once', '-e', 'PORT=0', '--replicas', '2', '--idempotency-key', key);
  t.is(other.code, 1);
  t.like(JSON.parse(other.stderr), { error: { code: 'GOAT_ERR_CONFLICT', details: { status: 409 } } });
  // The same over HTTP, as a client retrying its own POST would see it.
  const body = { name: 'once', replicas: 1, task: { command: ['node', ECHO_SERVER, marker('once')], env: { PORT: '0' } } };
  const h1 = await a.api('POST', '/v1/services', body, { 'idempotency-key': `${key}-http` });
  const h2 = await a.api('POST', '/v1/services', body, { 'idempotency-key': `${key}-http` });
  t.is(h1.status, 200, 'the service exists already: an update with no change');
  t.deepEqual(h2, h1);
  const conflict = await a.api<{ error: { code: string } }>('POST', '/v1/services', { ...body, replicas: 3 }, { 'idempotency-key': `${key}-http` });
  t.is(conflict.status, 409);
  t.is(conflict.json.error.code, 'GOAT_ERR_CONFLICT');

  await settle(a, 'once', 1);
  const services = (await a.cliJson<Service[]>('services')).filter((s) => s.name === 'once');
  t.is(services.length, 1);
  t.like(services[0], { replicas: 1, version: 1 });
  t.is((await a.cliJson<Task[]>('ps', '--service', 'once', '--all')).length, 1, 'one task ever');
  t.is((await a.cli('stop', 'once')).code, 0);
  await settle(a, 'once', 0);
});

test.serial('malformed and oversized frames close that link only', async (t) => {
  const before = Date.now();
  const garbage = await rawLink(a, TOKEN, (ws) => {
    ws.send('not json{');
    ws.send('{"json":{"v":1,"id":"x","type":"hello","body":{}}}');
    ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
  });
  t.is(garbage.code, LINK_CLOSE.BAD_FRAMES.code);
  t.is(garbage.frames.filter((f) => f.includes('GOAT_ERR_BAD_FRAME')).length, 3, 'each bad frame is answered with an error frame');
  const oversized = await rawLink(a, TOKEN, (ws) => ws.send('x'.repeat(1024 * 1024 + 1)));
  t.is(oversized.code, LINK_CLOSE.TOO_BIG.code);

  // The three workers' links were not disturbed: still ready, heard from since, and nobody else joined.
  const ns = await linked(a, ['w1', 'w2', 'w3'], Date.now(), 5_000);
  t.is(ns.length, 3);
  t.is((await nodes(a)).length, 3);
  t.true(ns.every((n) => n.lastSeenAt > before));
  t.is(await a.fetchStatus('/readyz'), 200);
  t.is((await a.api('GET', '/v1/services')).status, 200);
  t.true(a.manager.alive);
});

test.serial('a wrong join token is refused and the manager carries on', async (t) => {
  const bad = a.startWorker('intruder', { token: 'wrong-token-123456' });
  const refused = await rawLink(a, 'wrong-token-123456', () => undefined);
  t.is(refused.status, 401);
  const waitedAt = Date.now();
  await eventually('the refused worker says it retries', () => /link to \S+ refused: .*; retrying in \d+ ms/.test(bad.proc.output), 10_000);
  t.log(`the refused worker said it retries ${Date.now() - waitedAt} ms after the refusal`);
  t.true(bad.proc.alive, 'the refused worker keeps retrying');
  const ns = await a.cliJson<Node[]>('nodes');
  t.deepEqual(ns.map((n) => n.name).sort(), ['w1', 'w2', 'w3']);
  await bad.proc.kill9();
  t.is(await a.fetchStatus('/readyz'), 200);
  await linked(a, ['w1', 'w2', 'w3'], Date.now(), 5_000);
  // It still does its job.
  t.is((await runEcho(a, 'after', '-e', 'PORT=0')).code, 0);
  await settle(a, 'after', 1);
  t.is((await a.cli('stop', 'after')).code, 0);
  await settle(a, 'after', 0);
});

test.serial('kill -9 of the manager: a new one on the same data dir has the services and tasks back, nothing restarted, workers reconnect by themselves', async (t) => {
  t.is((await runEcho(a, 'keep', '--replicas', '3', '-e', 'PORT=0')).code, 0);
  await settle(a, 'keep', 3);
  const ps = await a.cliJson<Task[]>('ps', '--service', 'keep');
  const services = await a.cliJson<Service[]>('services');
  const records = [...(await liveRecords(a, 'keep')).values()].flat();
  t.is(records.length, 3);
  const pidOf = new Map(records.map((r) => [`${r.taskId}@${r.generation}`, r]));
  for (const x of ps) t.truthy(pidOf.get(`${x.id}@${x.generation}`), `a process record for ${x.id}`);
  const workerPids = a.workers.map((w) => w.proc.pid);
  const pids = (await echoPids('keep')).join(',');

  const old = a.manager;
  await old.kill9();
  t.is((await old.exited).signal, 'SIGKILL');
  t.is(await a.fetchStatus('/healthz'), 0, 'nothing answers while the manager is down');
  t.is((await echoPids('keep')).join(','), pids, 'the tasks keep running without a manager');

  const restartedAt = Date.now();
  await a.startManager();
  const ns = await linked(a, ['w1', 'w2', 'w3'], restartedAt);
  t.log(`3 workers linked again ${Date.now() - restartedAt} ms after the new manager was started`);
  t.is(ns.length, 3);
  t.deepEqual(a.workers.map((w) => w.proc.pid), workerPids, 'the same worker processes, never restarted by the test');
  t.true(a.workers.every((w) => w.proc.alive));

  t.deepEqual((await a.cliJson<Service[]>('services')).find((s) => s.name === 'keep'), services.find((s) => s.name === 'keep'));
  const after = await a.cliJson<Task[]>('ps', '--service', 'keep');
  const key = (x: Task) => `${x.id}@${x.generation}@${x.node}`;
  t.deepEqual(after.map(key).sort(), ps.map(key).sort(), 'same task ids, generations and nodes');
  t.true(after.every((x) => x.state === 'running' && x.restarts === 0));
  const quietAt = Date.now();
  await quiescent(a); // nothing in flight that could still restart a task
  t.log(`nothing in flight ${Date.now() - quietAt} ms after the checks`);
  const again = [...(await liveRecords(a, 'keep')).values()].flat();
  t.deepEqual(again.map((r) => `${r.taskId}@${r.generation}:${r.pid}:${r.startTime}`).sort(), records.map((r) => `${r.taskId}@${r.generation}:${r.pid}:${r.startTime}`).sort(), 'the same processes');
  t.is((await echoPids('keep')).join(','), pids, 'exactly the 3 echo processes of before');
  t.true((await tasks(a, 'keep')).every((x) => isRunning(x) && x.restarts === 0));
});

test.serial('drain moves the tasks of a node to the others', async (t) => {
  t.is((await runEcho(a, 'web', '--replicas', '3', '-e', 'PORT=0')).code, 0);
  const before = await settle(a, 'web', 3);
  const w2 = (await nodes(a)).find((n) => n.name === 'w2')!;
  const onW2 = before.filter((x) => x.node === w2.id);
  t.is(onW2.length, 1);
  const drained = await a.cli('drain', 'w2');
  t.is(drained.code, 0, drained.stderr);
  t.regex(drained.stdout, new RegExp(`node w2 \\(${w2.id}\\) draining`));
  const moved = await eventually('the task of w2 moved', async () => {
    const running = (await tasks(a, 'web')).filter(isRunning);
    return running.length === 3 && running.every((x) => x.node !== w2.id) && (await echoPids('web')).length === 3 ? running : undefined;
  }, 20_000, 100);
  t.deepEqual(moved.map((x) => x.slot).sort(), [0, 1, 2]);
  t.is((await liveRecords(a, 'web')).get('w2')!.length, 0, 'no echo process left on w2');
  t.is((await a.cliJson<Node[]>('nodes')).find((n) => n.id === w2.id)?.status, 'draining');
  // Still draining: a new service avoids it.
  t.is((await runEcho(a, 'late', '--replicas', '2', '-e', 'PORT=0')).code, 0);
  t.true((await settle(a, 'late', 2)).every((x) => x.node !== w2.id));
});

(runDockerTests ? test : test.skip)('docker: the seed echo service answers through the cluster (goat/echo:latest)', async (t) => {
  const c = b!;
  const port = await freePort();
  const created = await c.cli('run', 'echo', '--image', 'goat/echo:latest', '-p', `${port}:7777`, '--json');
  t.is(created.code, 0, created.stderr);
  const [task] = await eventually('the echo container running', async () => {
    const running = (await tasks(c, 'echo')).filter(isRunning);
    return running.length === 1 ? running : undefined;
  }, 30_000, 100);
  t.deepEqual(await post(port, HELLO), { status: 200, text: HELLO });
  const containers = await docker.listContainers({ filters: { label: [`goat.task=${task!.id}`] } });
  t.is(containers.length, 1);
  t.is(containers[0]!.Names[0], `/goat-${task!.id}-g${task!.generation}`);
  t.is((await c.cli('stop', 'echo')).code, 0);
  await eventually('no container running', async () => (await docker.listContainers({ filters: { label: [`goat.task=${task!.id}`] } })).length === 0, 20_000, 100);
});
