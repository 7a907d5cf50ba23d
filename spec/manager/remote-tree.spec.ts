/**
 * A worker's tree over its link (issue 9): the manager shows it under
 * `nodes/<id>` from the worker's `tree_snapshot`/`tree_delta` frames alone
 * (nothing attached in-process), routes `send`/`ask`/`info`/`state`/`kill`
 * to its actors over the link (a timeout is an error), and keeps the last
 * known subtree, stale, once the worker is gone. Real manager, real worker,
 * real WebSocket link on loopback.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster } from '../../actors/worker/index.js';
import { AdminClient } from '../../lib/repl/index.js';
import type { ActorInfo, TreeNode } from '../../lib/supervision/index.js';
import { eventually } from '../runtime/helpers/wait.js';

const TOKEN = 'remote-tree-token';
const quiet = { info: () => undefined, warn: () => undefined };

const find = (n: TreeNode, path: string): TreeNode | undefined => (n.path === path ? n : (n.children ?? []).map((c) => find(c, path)).find(Boolean));

test('a linked worker\'s tree, its actors reached over the link, and its last known tree once it is gone', async (t) => {
  t.timeout(60_000);
  const dir = await mkdtemp(join(tmpdir(), 'goat-remote-tree-'));
  const manager = await Manager.start({ dataDir: join(dir, 'manager'), listen: '127.0.0.1:0', token: TOKEN, logger: quiet });
  const worker = await joinCluster({ join: manager.url, token: TOKEN, dataDir: join(dir, 'w'), name: 'w', runtime: 'process', cluster: `goat-remote-tree-${process.pid}`, logger: quiet });
  const client = new AdminClient(manager.url, TOKEN);
  let workerStopped = false;
  t.teardown(async () => {
    client.close();
    for (const task of worker.worker.tasks()) await worker.worker.runtime.remove(task.id, task.generation).catch(() => undefined);
    if (!workerStopped) await worker.stop().catch(() => undefined);
    await manager.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  const node = `/cluster/manager/nodes/${worker.worker.nodeId}`;
  await manager.putService({ name: 'crashy', replicas: 1, task: {
    command: ['node', '-e', 'process.exit(3)'],
    restart: { policy: 'always', maxRestarts: 50, windowMs: 600_000, backoff: { initialMs: 3_000, factor: 2, maxMs: 60_000, jitter: 0 } },
  } });
  const taskId = (await eventually('a task', () => manager.listTasks({ service: 'crashy' })[0]?.id, 20_000));

  // The tree, from the link's frames only.
  const seen = await eventually('the crash-looping task in the remote subtree', () => {
    const tree = manager.tree();
    const task = find(tree, `${node}/worker/tasks/${taskId}`);
    return task && task.restarts >= 1 && task.status === 'restarting' ? tree : undefined;
  }, 20_000);
  const w = find(seen, `${node}/worker`)!;
  t.deepEqual(w.children?.map((c) => c.id), ['runtime', 'tasks', 'link']);
  t.is(w.strategy, 'rest_for_one');
  const task = find(seen, `${node}/worker/tasks/${taskId}`)!;
  t.regex(task.lastError?.message ?? '', /code 3/);
  t.true((task.nextRestartAt ?? 0) > Date.now() - 1_000, 'with its countdown');
  // And /v1/tree is the same tree.
  const http = (await (await fetch(`${manager.url}/v1/tree`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as TreeNode;
  t.truthy(find(http, `${node}/worker/link`));

  // Every path paths() lists can be addressed: info on the worker's actors, over the link.
  const info = (await client.request('ask', { path: `${node}/worker/runtime`, message: { type: '$info' } })) as ActorInfo;
  t.is(info.path, `${node}/worker/runtime`, 'named by the manager\'s path');
  t.is(info.status, 'running');
  t.is(typeof info.mailbox, 'number');
  const sup = (await client.request('ask', { path: `${node}/worker`, message: { type: '$info' } })) as ActorInfo;
  t.deepEqual(sup.children, ['runtime', 'tasks', 'link']);
  const state = (await client.request('ask', { path: `${node}/worker/link`, message: { type: '$state' } })) as { status: string };
  t.is(state.status, 'connected');
  const nope = await t.throwsAsync(client.request('ask', { path: `${node}/worker/nope`, message: { type: '$info' } }));
  t.regex(nope?.message ?? '', new RegExp(`no actor at ${node}/worker/nope`));
  const bad = await t.throwsAsync(client.request('send', { path: `${node}/worker/runtime`, message: { type: 'boom' } }));
  t.is((bad as { code?: string }).code, 'GOAT_ERR_BAD_MESSAGE');
  // An ask whose link drops before the answer (the link actor reconnects): an error at once, not a hang.
  const started = Date.now();
  const dropped = await t.throwsAsync(client.request('ask', { path: `${node}/worker/link`, message: { type: 'reconnect' }, timeoutMs: 10_000 }));
  t.is((dropped as { code?: string }).code, 'GOAT_ERR_LINK_CLOSED');
  t.true(Date.now() - started < 5_000);
  await eventually('the link back after the reconnect', () => manager.listNodes().some((n) => n.id === worker.worker.nodeId && n.status === 'ready'), 10_000);

  // kill over the link: the worker's supervisor restarts its runtime actor.
  await eventually('linked again', async () => ((await client.request('ask', { path: `${node}/worker/link`, message: { type: '$state' } }).catch(() => null)) as { status?: string } | null)?.status === 'connected', 10_000);
  t.deepEqual(await client.request('send', { path: `${node}/worker/runtime`, message: { type: '$kill', reason: 'from the test' } }), { killed: `${node}/worker/runtime`, reason: 'from the test' });
  await eventually('the runtime restarted, shown in the manager\'s tree', () => {
    const r = find(manager.tree(), `${node}/worker/runtime`);
    return r && r.restarts >= 1 && r.status === 'running' && r.lastError?.message === 'killed: from the test';
  }, 15_000);
  // Under rest_for_one the tasks restart after the runtime and re-attach their task: wait until the manager's tree shows it again.
  await eventually('the task re-attached after the runtime restart', () => find(manager.tree(), `${node}/worker/tasks/${taskId}`)?.status === 'running', 15_000);

  // Gone: the last known subtree stays, stale.
  await worker.stop();
  workerStopped = true;
  const stale = await eventually('the stale subtree', () => {
    const n = find(manager.tree(), node);
    return n?.children?.[0]?.stale ? n : undefined;
  }, 10_000);
  t.is(stale.children?.[0]?.stale?.reason, 'last known');
  t.truthy(find(stale, `${node}/worker/tasks/${taskId}`)?.stale);
  const gone = await t.throwsAsync(client.request('ask', { path: `${node}/worker/runtime`, message: { type: '$info' } }));
  t.is((gone as { code?: string }).code, 'GOAT_ERR_LINK_CLOSED');
});
