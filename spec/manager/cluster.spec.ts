/** A manager and three workers in one process, over real WebSockets and real processes (process runtime). */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster, type JoinedWorker } from '../../actors/worker/index.js';
import { freePort, post } from '../runtime/helpers/net.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';

const TOKEN = 'test-token-123456';
const quiet = { info: () => undefined, warn: () => undefined };

async function cluster(t: { teardown(f: () => Promise<void> | void): void }, workers = 3, downAfterMs?: number) {
  const dir = await mkdtemp(join(tmpdir(), 'goat-cluster-'));
  const manager = await Manager.start({ dataDir: join(dir, 'manager'), listen: '127.0.0.1:0', token: TOKEN, logger: quiet, ...(downAfterMs ? { downAfterMs, heartbeatMs: downAfterMs / 4 } : {}) });
  const joined: JoinedWorker[] = [];
  for (let i = 0; i < workers; i++) {
    joined.push(await joinCluster({ join: manager.url, token: TOKEN, dataDir: join(dir, `w${i}`), name: `w${i}`, runtime: 'process', cluster: `goat-test-${process.pid}`, logger: quiet, backoff: { initialMs: 50, maxMs: 500 } }));
  }
  t.teardown(async () => {
    for (const w of joined) {
      for (const task of w.worker.tasks()) await w.worker.runtime.remove(task.id, task.generation).catch(() => undefined);
      await w.stop().catch(() => undefined);
    }
    await manager.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  await eventually('workers linked', () => manager.listNodes().filter((n) => n.status === 'ready').length === workers);
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${manager.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  return { manager, workers: joined, api };
}

const running = (m: Manager, service: string) => m.listTasks({ service }).filter((t) => t.state === 'running' && t.desired === 'running');

test('a 3-replica service spreads over the three workers and answers; scale down and up; delete', async (t) => {
  const { manager, workers, api } = await cluster(t);
  // PORT=0: each replica listens on a port of its own (the three workers share this machine).
  const put = await api('PUT', '/v1/services/echo', { replicas: 3, task: { command: ['node', ECHO_SERVER], env: { PORT: '0' } } });
  t.is(put.status, 201);
  await eventually('3 running', () => running(manager, 'echo').length === 3, 20_000);
  t.deepEqual(new Set(running(manager, 'echo').map((x) => x.node)).size, 3, 'one per node');
  for (const w of workers) t.is(w.worker.tasks().filter((x) => x.state === 'running').length, 1);
  await new Promise((r) => setTimeout(r, 500));
  t.deepEqual(running(manager, 'echo').map((x) => x.restarts), [0, 0, 0], 'stable, not crash-looping');

  t.is((await api('PATCH', '/v1/services/echo', { replicas: 1 })).status, 200);
  await eventually('scaled down to 1', () => running(manager, 'echo').length === 1 && workers.reduce((n, w) => n + w.worker.tasks().filter((x) => x.state === 'running').length, 0) === 1, 20_000);
  await api('PATCH', '/v1/services/echo', { replicas: 2 });
  await eventually('scaled up to 2', () => running(manager, 'echo').length === 2, 20_000);

  t.is((await api('DELETE', '/v1/services/echo')).status, 204);
  await eventually('all stopped', () => workers.every((w) => w.worker.tasks().every((x) => x.state !== 'running')), 20_000);
  t.is(running(manager, 'echo').length, 0);
});

test('the seed echo service answers through the cluster', async (t) => {
  const { manager, api } = await cluster(t, 1);
  const port = await freePort();
  await api('PUT', '/v1/services/echo', { replicas: 1, task: { command: ['node', ECHO_SERVER], ports: [{ host: port, container: 7777 }] } });
  await eventually('running', () => running(manager, 'echo').length === 1, 20_000);
  const body = '{"Msg":"Hello, world!"}';
  t.is((await eventually('answers', () => post(port, body).catch(() => undefined))).text, body);
  const tasks = (await api('GET', '/v1/tasks?service=echo')).json;
  t.like(tasks[0], { service: 'echo', slot: 0, generation: 1, state: 'running', restarts: 0 });
  for (const field of ['id', 'node', 'lastExit', 'createdAt', 'updatedAt']) t.true(field in tasks[0], field);
  const nodes = (await api('GET', '/v1/nodes')).json;
  t.like(nodes[0], { status: 'ready' });
  t.true(nodes[0].capacity.cpus >= 1);
});

test('drain moves the tasks of a node elsewhere', async (t) => {
  const { manager, api } = await cluster(t, 2);
  await api('PUT', '/v1/services/web', { replicas: 2, task: { command: ['node', ECHO_SERVER], env: { PORT: '0' } } });
  await eventually('2 running', () => running(manager, 'web').length === 2, 20_000);
  const victim = running(manager, 'web')[0]!.node!;
  t.is((await api('POST', `/v1/nodes/${victim}/drain`)).status, 200);
  await eventually('moved', () => running(manager, 'web').length === 2 && running(manager, 'web').every((x) => x.node !== victim), 20_000);
  t.is(manager.listNodes().find((n) => n.id === victim)?.status, 'draining');
});

test('a retried POST with the same Idempotency-Key makes one service; another body gets 409', async (t) => {
  const { manager, api } = await cluster(t, 1);
  const body = { name: 'once', replicas: 1, task: { command: ['node', ECHO_SERVER] } };
  const a = await api('POST', '/v1/services', body, { 'idempotency-key': 'k-1' });
  const b = await api('POST', '/v1/services', body, { 'idempotency-key': 'k-1' });
  t.is(a.status, 201);
  t.deepEqual(b, a);
  t.is(manager.getService('once')?.version, 1);
  t.is((await api('POST', '/v1/services', { ...body, replicas: 2 }, { 'idempotency-key': 'k-1' })).status, 409);
  await eventually('one task', () => running(manager, 'once').length === 1, 20_000);
  t.is(manager.listTasks({ service: 'once' }).length, 1);
});

test('a wrong join token is refused and the manager carries on', async (t) => {
  const { manager, api } = await cluster(t, 1);
  const dir = await mkdtemp(join(tmpdir(), 'goat-bad-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bad = await joinCluster({ join: manager.url, token: 'wrong-token-xyz', dataDir: dir, runtime: 'process', logger: quiet, backoff: { initialMs: 50, maxMs: 200 } });
  t.teardown(() => bad.stop());
  // Wait for refusals, not for a fixed time: three attempts refused, none welcomed.
  const refusals: string[] = [];
  bad.link.on('disconnected', (d) => void refusals.push(d.reason));
  await eventually('three refused attempts', () => refusals.length >= 3, 20_000, 10);
  t.is(bad.link.status === 'connected', false);
  t.is(manager.listNodes().length, 1);
  t.is((await api('GET', '/readyz')).status, 200);
});

test('a worker that leaves is suspect at once, then down; its slot is re-placed on another node', async (t) => {
  const { manager, workers, api } = await cluster(t, 2, 600);
  await api('PUT', '/v1/services/solo', { replicas: 1, task: { command: ['node', ECHO_SERVER], env: { PORT: '0' } } });
  await eventually('running', () => running(manager, 'solo').length === 1, 20_000);
  const first = running(manager, 'solo')[0]!;
  const leaving = workers.find((w) => w.worker.nodeId === first.node)!;
  for (const task of leaving.worker.tasks()) await leaving.worker.runtime.remove(task.id, task.generation);
  await leaving.stop();
  await eventually('suspect', () => manager.listNodes().find((n) => n.id === first.node)?.status === 'suspect', 2_000);
  await eventually('down', () => manager.listNodes().find((n) => n.id === first.node)?.status === 'down', 5_000);
  t.is(manager.getTask(first.id)?.state, 'lost');
  await eventually('re-placed', () => running(manager, 'solo').some((x) => x.node !== first.node && x.generation === first.generation + 1), 20_000);
});
