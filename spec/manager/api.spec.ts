/** The manager's API surface with one real worker: metrics, events as JSON and SSE, the tree, readiness; and a corrupt store refused. */
import test from 'ava';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster } from '../../actors/worker/index.js';
import { GoatError } from '../../lib/errors.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';
import { managerTree } from '../helpers/tree.js';
import type { TreeNode } from '../../lib/supervision/index.js';

const TOKEN = 'api-test-token-1';
const quiet = { info: () => undefined, warn: () => undefined };

async function setup(t: { teardown(f: () => Promise<void> | void): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'goat-api-'));
  const manager = await Manager.start({ dataDir: join(dir, 'm'), listen: '127.0.0.1:0', token: TOKEN, logger: quiet });
  const w = await joinCluster({ join: manager.url, token: TOKEN, dataDir: join(dir, 'w'), runtime: 'process', logger: quiet, cluster: `goat-api-${process.pid}` });
  t.teardown(async () => {
    for (const task of w.worker.tasks()) await w.worker.runtime.remove(task.id, task.generation).catch(() => undefined);
    await w.stop();
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${manager.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}`, ...headers } });
  await eventually('linked', () => manager.listNodes().length === 1);
  return { manager, get };
}

test('/metrics shows tasks by state, nodes by status, heartbeat and scheduling histograms', async (t) => {
  const { manager } = await setup(t);
  await manager.putService({ name: 'm', replicas: 2, task: { command: ['node', ECHO_SERVER], env: { PORT: '0' } } });
  await eventually('running', () => manager.listTasks({ state: 'running' }).length === 2, 20_000);
  // Two heartbeats make one interval: wait for it rather than for a fixed time.
  const text = await eventually('a heartbeat interval observed', async () => {
    const res = await fetch(`${manager.url}/metrics`);
    t.is(res.status, 200);
    const body = await res.text();
    return /goat_heartbeat_interval_seconds_count [1-9]/.test(body) ? body : undefined;
  }, 20_000);
  t.regex(text, /goat_tasks\{state="running"\} 2/);
  t.regex(text, /goat_nodes\{status="ready"\} 1/);
  t.regex(text, /goat_scheduling_seconds_count [1-9]/);
  t.regex(text, /goat_heartbeat_interval_seconds_count [1-9]/);
  t.regex(text, /goat_placements_total 2/);
});

test('events come as JSON since a sequence number, and as a live SSE stream', async (t) => {
  const { manager, get } = await setup(t);
  const sse = await get('/v1/events?since=0', { accept: 'text/event-stream' });
  t.is(sse.headers.get('content-type'), 'text/event-stream');
  const reader = sse.body!.getReader();
  await manager.putService({ name: 'ev', replicas: 1, task: { command: ['node', ECHO_SERVER] } });
  let text = '';
  const decoder = new TextDecoder();
  await eventually('a running task event streamed', async () => {
    const { value } = await reader.read();
    text += decoder.decode(value);
    return /event: task\.state\n/.test(text) && /"state":"running"/.test(text);
  }, 20_000);
  await reader.cancel();
  const all = (await (await get('/v1/events?since=0')).json()) as { seq: number; type: string }[];
  t.true(all.some((e) => e.type === 'service.updated'));
  const last = all.at(-1)!.seq;
  const later = (await (await get(`/v1/events?since=${last}`)).json()) as unknown[];
  t.deepEqual(later, []);
  t.regex(text, /^id: \d+$/m);
});

test('/v1/tree shows the cluster root, the manager supervision tree and a child per linked node', async (t) => {
  const { manager, get } = await setup(t);
  type Node = { id: string; path: string; children?: Node[] };
  const managerOf = (root: Node): Node => root.children!.find((c) => c.id === 'manager')!;
  const root = (await (await get('/v1/tree')).json()) as Node;
  t.is(root.path, '/cluster');
  const tree = managerOf(root);
  t.is(tree.path, '/cluster/manager');
  t.deepEqual(tree.children!.map((c) => c.id), ['store', 'scheduler', 'reconciler', 'nodes', 'services', 'api']);
  const nodeId = manager.listNodes()[0]!.id;
  t.deepEqual(tree.children![3]!.children?.map((c) => c.path), [`/cluster/manager/nodes/${nodeId}`]);
  await manager.putService({ name: 'tree', replicas: 1, task: { command: ['node', ECHO_SERVER], env: { PORT: '0' } } });
  await eventually('a controller for the service', async () => {
    const again = managerOf((await (await get('/v1/tree')).json()) as Node);
    return again.children![4]!.children?.some((c) => c.path === '/cluster/manager/services/tree') === true;
  });
});

test('a corrupt store stops the manager with a clear error naming the file and restore', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-corrupt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'goat.db'), 'this is not a database, it is a goat'.repeat(200));
  const err = await t.throwsAsync(Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: TOKEN, logger: quiet }), { instanceOf: GoatError });
  t.is(err?.code, 'GOAT_ERR_STORE_CORRUPT');
  t.regex(err?.message ?? '', /goat\.db/);
  t.regex(err?.message ?? '', /restore/);
});

test('a reconcile that throws crashes only its service controller, which restarts and converges', async (t) => {
  const { manager, get } = await setup(t);
  // The controller reads its slots with listCurrentTasks (at start and on each reconcile): the first read of `flaky` throws.
  const store = manager.store as unknown as { listCurrentTasks: (...a: unknown[]) => unknown };
  const original = store.listCurrentTasks.bind(manager.store);
  let failures = 1;
  store.listCurrentTasks = (...args: unknown[]) => {
    if (args[0] === 'flaky' && failures-- > 0) throw new Error('store hiccup');
    return original(...args);
  };
  await manager.putService({ name: 'flaky', replicas: 1, task: { command: ['node', ECHO_SERVER], env: { PORT: '0' } } });
  await eventually('converged despite the crash', () => manager.listTasks({ service: 'flaky', state: 'running' }).length === 1, 20_000);
  const tree = managerTree((await (await get('/v1/tree')).json()) as TreeNode);
  const controller = tree.children?.find((c) => c.id === 'services')?.children?.find((c) => c.id === 'flaky');
  t.is(controller?.restarts, 1);
  t.is(controller?.lastError?.message, 'store hiccup');
  t.is(tree.children?.find((c) => c.id === 'reconciler') !== undefined, true);
});
