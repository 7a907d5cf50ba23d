/** Goat embedded in a plain Node HTTP service: the service deploys through createCluster and answers from it. */
import test from 'ava';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCluster, isGoatError, type ClusterEvent } from '../../lib/index.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';

const quiet = { info: () => undefined, warn: () => undefined };
const body = (req: IncomingMessage): Promise<string> => new Promise((r) => {
  let s = '';
  req.on('data', (c) => (s += c));
  req.on('end', () => r(s));
});

test('a Node HTTP service embeds a cluster: deploys, lists tasks, streams events, scales and removes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-embed-'));
  const cluster = createCluster({
    manager: { listen: '127.0.0.1:0', dataDir: join(dir, 'goat') },
    worker: { runtime: 'process' },
    cluster: { name: `goat-embed-${process.pid}`, token: 'embedded-token-1' },
  }, { logger: quiet, env: {} });
  t.throws(() => cluster.tasks(), { message: /not started/ });
  await cluster.start();
  // The app: POST /deploy/:name deploys N replicas of echo; GET /status lists the tasks.
  const app = createServer((req, res) => void (async () => {
    try {
      const m = /^\/deploy\/([a-z0-9-]+)$/.exec(req.url ?? '');
      if (req.method === 'POST' && m) {
        const { replicas } = JSON.parse(await body(req)) as { replicas: number };
        const svc = await cluster.apply({ name: m[1]!, replicas, task: { command: ['node', ECHO_SERVER], env: { PORT: '0' } } });
        return res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ name: svc.name, version: svc.version }));
      }
      if (req.url === '/status') return res.writeHead(200).end(JSON.stringify(cluster.tasks().map((x) => ({ service: x.service, state: x.state }))));
      res.writeHead(404).end();
    } catch (err) {
      res.writeHead(isGoatError(err, 'GOAT_ERR_INVALID_SPEC') ? 400 : 500).end(String(err));
    }
  })());
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  t.teardown(async () => {
    app.close();
    for (const s of cluster.services()) await cluster.remove(s.name);
    await eventually('tasks stopped', () => cluster.tasks().every((x) => x.state !== 'running'), 20_000).catch(() => undefined);
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const events = cluster.events();
  const seen: ClusterEvent[] = [];
  const collecting = (async () => {
    for await (const e of events) {
      seen.push(e);
      if (seen.filter((x) => x.type === 'task.state' && x.data['state'] === 'running').length >= 2) break;
    }
  })();
  const deployed = await fetch(`${base}/deploy/api`, { method: 'POST', body: JSON.stringify({ replicas: 2 }) });
  t.is(deployed.status, 201);
  await collecting;
  t.true(seen.some((e) => e.type === 'service.updated' && e.subject === 'api'));
  const status = (await (await fetch(`${base}/status`)).json()) as { service: string; state: string }[];
  t.deepEqual(status, [{ service: 'api', state: 'running' }, { service: 'api', state: 'running' }]);
  t.is((await fetch(`${base}/deploy/Bad_Name`, { method: 'POST', body: JSON.stringify({ replicas: 1 }) })).status, 404, 'the app validates its own routes');

  await cluster.scale('api', 1);
  await eventually('scaled to 1', () => cluster.tasks({ service: 'api', state: 'running' }).length === 1, 20_000);
  t.is(cluster.nodes().length, 1);
  // One tree for the process: the manager and the local worker under one cluster root.
  const tree = cluster.tree();
  t.is(tree.path, '/cluster');
  t.deepEqual(tree.children?.map((c) => c.path), ['/cluster/manager', '/cluster/worker']);
  t.true(tree.children?.[1]?.children?.some((c) => c.path === '/cluster/worker/tasks') === true);
  t.regex(cluster.url, /^http:\/\/127\.0\.0\.1:\d+$/);

  // The REPL, in process: a line in, the actor's answer out.
  const { PassThrough } = await import('node:stream');
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (c) => (printed += c));
  const repl = cluster.repl({ input, output, historyFile: join(dir, 'history') });
  await eventually('the prompt', () => printed.includes('goat> '));
  input.write(`await ask('/cluster/manager/scheduler', { type: '$info' })\n`);
  await eventually('the answer', () => printed.includes(`path: '/cluster/manager/scheduler'`));
  // The local worker sits beside the manager under the same root, and is addressable there.
  input.write(`await ask('/cluster/worker/runtime', { type: '$info' })\n`);
  await eventually('the local worker answers at its own path', () => printed.includes(`path: '/cluster/worker/runtime'`));
  input.write('.exit\n');
  await repl;
});
