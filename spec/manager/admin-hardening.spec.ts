/**
 * The admin channel against careless and hostile clients (issue 11): every
 * actor rejects what it does not understand with an error answer and runs
 * on; every path answers `$info`; asks in flight and message sizes are
 * capped per session; a flood of bad frames leaves the manager up and its
 * memory bounded. A real manager, real WebSockets on loopback.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Manager } from '../../actors/manager/manager.js';
import { AdminClient } from '../../lib/repl/index.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN_LIMITS, AdminServer, type AdminApi } from '../../transport/admin-server.js';
import type { ActorInfo } from '../../lib/supervision/index.js';
import { managerTree } from '../helpers/tree.js';

const TOKEN = 'admin-hardening-token';
const quiet = { info: () => undefined, warn: () => undefined };

async function setup(t: { teardown(f: () => Promise<void>): void }): Promise<{ manager: Manager; client: AdminClient }> {
  const dir = await mkdtemp(join(tmpdir(), 'goat-admin-h-'));
  const manager = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: TOKEN, logger: quiet });
  const client = new AdminClient(manager.url, TOKEN);
  await client.opened;
  t.teardown(async () => {
    client.close();
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { manager, client };
}

const restartsOf = (m: Manager): number => (managerTree(m).children ?? []).reduce((n, c) => n + c.restarts, 0);

test.serial('a null, missing or foreign message is an error answer and nothing restarts', async (t) => {
  const { manager, client } = await setup(t);
  for (const path of ['/cluster/manager/reconciler', '/cluster/manager/scheduler', '/cluster/manager/store', '/cluster/manager/api']) {
    for (const message of [null, undefined, 42, 'tick', [], {}, { type: 7 }, { type: 'tick' }, { type: 'place', round: 'x' }]) {
      const err = await t.throwsAsync(client.request('send', { path, ...(message === undefined ? {} : { message }) }));
      t.regex(err?.message ?? '', /message|takes no messages|understand/, `${path} ${JSON.stringify(message)}`);
      t.true(['GOAT_ERR_BAD_MESSAGE', 'GOAT_ERR_BAD_FRAME'].includes((err as { code?: string }).code ?? ''), `${path} ${JSON.stringify(message)}: ${(err as { code?: string }).code}`);
    }
  }
  const err = await t.throwsAsync(client.request('ask', { path: '/cluster/manager/reconciler', message: null }));
  t.is((err as { code?: string }).code, 'GOAT_ERR_BAD_MESSAGE');
  t.is(manager.tree().status, 'running');
  t.is(restartsOf(manager), 0, 'no actor crashed');
});

test.serial('every path of the tree answers $info, supervisors and the root too', async (t) => {
  const { manager, client } = await setup(t);
  const paths: string[] = [];
  const walk = (n: { path: string; children?: unknown[] }): void => {
    paths.push(n.path);
    for (const c of (n.children ?? []) as { path: string }[]) walk(c);
  };
  walk(manager.tree());
  t.is(paths[0], '/cluster', 'the root is cluster');
  t.true(paths.includes('/cluster/manager') && paths.includes('/cluster/manager/nodes') && paths.includes('/cluster/manager/services'));
  for (const path of paths) {
    const info = (await client.request('ask', { path, message: { type: '$info' } })) as ActorInfo;
    t.is(info.path, path);
    t.is(info.status, 'running');
    t.true(typeof info.uptimeMs === 'number' && info.uptimeMs >= 0, `${path} has an uptime`);
  }
  const root = (await client.request('ask', { path: '/cluster', message: { type: '$info' } })) as ActorInfo;
  t.is(root.kind, 'supervisor');
  t.deepEqual(root.children, ['manager']);
  const part = (await client.request('ask', { path: '/cluster/manager', message: { type: '$info' } })) as ActorInfo;
  t.deepEqual(part.children, ['store', 'scheduler', 'reconciler', 'nodes', 'services', 'api']);
  const actor = (await client.request('ask', { path: '/cluster/manager/reconciler', message: { type: '$info' } })) as ActorInfo;
  t.is(actor.kind, 'worker');
  t.is(typeof actor.mailbox, 'number');
  t.is(actor.restarts, 0);
});

test.serial('state(path) is a copy of the state; kill(path) crashes the actor and its supervisor restarts it', async (t) => {
  const { manager, client } = await setup(t);
  t.is(await client.request('ask', { path: '/cluster/manager/reconciler', message: { type: '$state' } }), null);
  const nodes = (await client.request('ask', { path: '/cluster/manager/nodes', message: { type: '$state' } })) as { flags: { strategy: string } };
  t.is(nodes.flags.strategy, 'one_for_one');
  t.deepEqual(await client.request('send', { path: '/cluster/manager/scheduler', message: { type: '$kill', reason: 'testing' } }), { killed: '/cluster/manager/scheduler', reason: 'testing' });
  const deadline = Date.now() + 5_000;
  let info: ActorInfo;
  do {
    info = (await client.request('ask', { path: '/cluster/manager/scheduler', message: { type: '$info' } })) as ActorInfo;
  } while ((info.restarts !== 1 || info.status !== 'running') && Date.now() < deadline && (await new Promise((r) => setTimeout(r, 50)), true));
  t.is(info.restarts, 1);
  t.is(info.status, 'running');
  t.is(info.lastError?.message, 'killed: testing');
  const root = await t.throwsAsync(client.request('send', { path: '/cluster', message: { type: '$kill' } }));
  t.regex(root?.message ?? '', /root supervisor/);
  t.is(manager.tree().status, 'running');
});

test.serial('a path of the old shape (before the cluster root) is an error that names the new one', async (t) => {
  const { client } = await setup(t);
  for (const [old, now] of [['/manager/reconciler', '/cluster/manager/reconciler'], ['/manager', '/cluster/manager']]) {
    const err = await t.throwsAsync(client.request('ask', { path: old, message: { type: '$info' } }));
    t.is((err as { code?: string }).code, 'GOAT_ERR_NO_SUCH_CHILD');
    t.true(err?.message.includes(`no actor at ${old}`) && err.message.includes(`try ${now}`), err?.message);
  }
  const info = (await client.request('ask', { path: '/cluster/manager/reconciler', message: { type: '$info' } })) as ActorInfo;
  t.is(info.path, '/cluster/manager/reconciler');
});

test.serial('message sizes are capped; many asks at once against the real manager are answered or refused busy', async (t) => {
  const { client } = await setup(t);
  const big = { type: 'x', pad: 'a'.repeat(ADMIN_LIMITS.messageBytes) };
  const err = await t.throwsAsync(client.request('send', { path: '/cluster/manager/store', message: big }));
  t.is((err as { code?: string }).code, 'GOAT_ERR_TOO_LARGE');
  // $state asks of a busy actor are answered in mailbox order; many at once are capped.
  const asks = Array.from({ length: ADMIN_LIMITS.inFlight + 20 }, () => client.request('ask', { path: '/cluster/manager/store', message: { type: '$state' }, timeoutMs: 30_000 }).then(() => 'ok', (e: { code?: string }) => e.code));
  const results = await Promise.all(asks);
  t.true(results.every((r) => r === 'ok' || r === 'GOAT_ERR_BUSY'), results.join(','));
  t.true(results.filter((r) => r === 'ok').length >= 1);
});

interface Answer { re: string; ok: boolean; error?: { code: string; message: string } }

test.serial('the asks in flight cap: with calls that never answer, the 33rd ask of a session is GOAT_ERR_BUSY and at most 32 reach the manager', async (t) => {
  // Calls that never resolve: the cap alone decides what is taken.
  const calls: { id: string; resolve: (v: unknown) => void }[] = [];
  const api: AdminApi = {
    handle: (req) => new Promise((resolve) => calls.push({ id: (req as { id: string }).id, resolve })),
    subscribe: () => () => undefined,
  };
  const server = createServer();
  const admin = new AdminServer(api, TOKEN);
  admin.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    admin.close();
    server.closeAllConnections();
    server.close();
  });
  const open = async (): Promise<{ ws: WebSocket; answers: Answer[] }> => {
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/admin`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const answers: Answer[] = [];
    ws.on('message', (d) => answers.push(JSON.parse(String(d)) as Answer));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return { ws, answers };
  };
  const ask = (ws: WebSocket, id: string): void => ws.send(JSON.stringify({ id, type: 'ask', path: '/cluster/manager/store', message: { type: '$state' } }));
  const a = await open();
  t.teardown(() => a.ws.close());
  const n = ADMIN_LIMITS.inFlight;
  t.is(n, 32);
  for (let i = 1; i <= n + 1; i++) ask(a.ws, `a${i}`);
  const until = async (what: string, ok: () => boolean): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await until('the busy answer', () => a.answers.length >= 1);
  t.is(a.answers.length, 1, 'only the 33rd is answered');
  t.like(a.answers[0], { re: `a${n + 1}`, ok: false, error: { code: 'GOAT_ERR_BUSY' } });
  t.regex(a.answers[0]?.error?.message ?? '', /32 requests in flight/);
  t.is(calls.length, n, 'at most 32 in flight');
  t.deepEqual(calls.map((c) => c.id), Array.from({ length: n }, (_, i) => `a${i + 1}`));
  // The cap is per session: another session is not blocked.
  const b = await open();
  t.teardown(() => b.ws.close());
  ask(b.ws, 'b1');
  await until('b1 taken', () => calls.some((c) => c.id === 'b1'));
  t.deepEqual(b.answers, []);
  // One answer frees one place.
  calls[0]!.resolve('done');
  await until('a1 answered', () => a.answers.some((x) => x.re === 'a1'));
  ask(a.ws, 'a34');
  ask(a.ws, 'a35');
  await until('a35 refused', () => a.answers.some((x) => x.re === 'a35'));
  t.true(calls.some((c) => c.id === 'a34'), 'taken in the freed place');
  t.is(a.answers.find((x) => x.re === 'a35')?.error?.code, 'GOAT_ERR_BUSY');
  t.is(calls.filter((c) => c.id.startsWith('a')).length, n + 1);
});

test.serial('a bounded flood of bad admin frames: the manager stays up, nothing restarts, memory stays bounded', async (t) => {
  const { manager } = await setup(t);
  const ws = new WebSocket(`${manager.url.replace('http', 'ws')}/v1/admin`, { headers: { authorization: `Bearer ${TOKEN}` } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let answers = 0;
  ws.on('message', () => answers++);
  const frames = [
    '{"type":"send","path":"/cluster/manager/reconciler","message":null,"id":"1"}',
    '{"type":"send","path":"/cluster/manager/reconciler","id":"2"}',
    '{"type":"send","path":"/cluster/manager/scheduler","message":{"type":"place","round":1},"id":"3"}',
    '{"type":"ask","path":"/cluster/manager/nodes","message":{"type":"tick"},"id":"4"}',
    'not json', '{"id":"5"}', '[]', 'null',
    '{"type":"send","path":"/cluster/manager/nope","message":{"type":"x"},"id":"6"}',
    '{"type":"ask","path":"/cluster/manager/store","message":{"type":"$kill"},"id":"7","timeoutMs":0}',
  ];
  const rounds = 500;
  global.gc?.();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < rounds; i++) {
    for (const f of frames) ws.send(f);
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  const expected = rounds * frames.length;
  const deadline = Date.now() + 20_000;
  while (answers < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  ws.close();
  t.is(answers, expected, 'every bad frame got an answer');
  t.is(manager.tree().status, 'running');
  t.is(restartsOf(manager), 0, 'no actor crashed');
  const grown = process.memoryUsage().rss - before;
  t.true(grown < 200 * 1024 * 1024, `RSS grew ${Math.round(grown / 1048576)} MiB for ${expected} bad frames`);
  t.log(`${expected} bad frames; RSS ${Math.round(before / 1048576)} → ${Math.round(process.memoryUsage().rss / 1048576)} MiB`);
});
