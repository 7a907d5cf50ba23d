/** `goat-cluster tree --watch` when stdout is not a terminal: plain text once per change, `--json` lines, and retrying when the manager is away. */
import test from 'ava';
import { spawn } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { CLI } from '../helpers/cli-process.js';
import { freePort } from '../runtime/helpers/net.js';
import { eventually } from '../runtime/helpers/wait.js';
import { testEnv } from '../helpers/env.js';

const TOKEN = 'inspector-plain-123456';
const quiet = { info: () => undefined, warn: () => undefined };

/**
 * A pass-through to `target` that counts the `GET /v1/tree` requests it saw:
 * the inspector polls one at a time, so its n-th request means it has handled
 * the answer to the one before.
 */
async function countingProxy(t: { teardown(f: () => Promise<void> | void): void }, target: string): Promise<{ url: string; trees: () => number }> {
  let trees = 0;
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/v1/tree')) trees++;
    const out = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, trees: () => trees };
}

function watch(t: { teardown(f: () => Promise<void> | void): void }, args: string[]) {
  const env = testEnv();
  const child = spawn(process.execPath, [CLI, 'tree', '--watch', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const io = { out: '', err: '', exited: new Promise<number | null>((r) => child.once('exit', r)) };
  child.stdout.on('data', (c) => (io.out += c));
  child.stderr.on('data', (c) => (io.err += c));
  t.teardown(async () => {
    child.kill('SIGKILL');
    await io.exited;
  });
  return { child, io };
}

test('not a terminal: the plain tree without escape codes, printed again only when it changes; SIGINT ends it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-inspector-plain-'));
  const manager = await Manager.start({ dataDir: join(dir, 'manager'), listen: '127.0.0.1:0', token: TOKEN, logger: quiet });
  t.teardown(async () => {
    await manager.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  const proxy = await countingProxy(t, manager.url);
  const { child, io } = watch(t, ['--manager', proxy.url, '--token', TOKEN]);
  await eventually('the tree', () => io.out.includes('nodes (0)'), 10_000);
  const seen = proxy.trees();
  t.regex(io.out, /^--- \d{4}-.*\n▾ ● cluster {2}running.*\n {2}▾ ● manager {2}running/);
  t.regex(io.out, /\n {6}● reconciler {2}running\n/);
  t.false(io.out.includes('\x1b'), 'no escape codes');
  // Two more polls: the answer to the first of them, the same tree, has been handled (and not printed).
  await eventually('two more polls of the tree', () => proxy.trees() >= seen + 2, 10_000, 20);
  t.is(io.out.split('--- ').length - 1, 1, 'nothing changed, printed once');
  child.kill('SIGINT');
  t.is(await io.exited, 0);
});

test('--json: one snapshot per line; an unreachable manager is reported on stderr and retried, not fatal', async (t) => {
  const port = await freePort();
  const { child, io } = watch(t, ['--json', '--manager', `http://127.0.0.1:${port}`, '--token', TOKEN]);
  await eventually('the error', () => io.err.includes('cannot reach the manager'), 10_000);
  t.regex(io.err, /\(retrying\)/);
  const dir = await mkdtemp(join(tmpdir(), 'goat-inspector-json-'));
  const manager = await Manager.start({ dataDir: join(dir, 'manager'), listen: `127.0.0.1:${port}`, token: TOKEN, logger: quiet });
  t.teardown(async () => {
    await manager.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  await eventually('a snapshot once the manager is up', () => io.out.includes('\n'), 10_000);
  const snap = JSON.parse(io.out.split('\n')[0]!) as { tree: { id: string }; nodes: unknown[] };
  t.is(snap.tree.id, 'cluster');
  t.deepEqual(snap.nodes, []);
  child.kill('SIGTERM');
  t.is(await io.exited, 0);
});
