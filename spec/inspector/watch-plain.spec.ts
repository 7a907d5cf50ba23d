/** `goat-cluster tree --watch` when stdout is not a terminal: plain text once per change, `--json` lines, and retrying when the manager is away. */
import test from 'ava';
import { spawn } from 'node:child_process';
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
  const { child, io } = watch(t, ['--manager', manager.url, '--token', TOKEN]);
  await eventually('the tree', () => io.out.includes('nodes (0)'), 10_000);
  t.regex(io.out, /^--- \d{4}-.*\n▾ ● cluster {2}running.*\n {2}▾ ● manager {2}running/);
  t.regex(io.out, /\n {6}● reconciler {2}running\n/);
  t.false(io.out.includes('\x1b'), 'no escape codes');
  await new Promise((r) => setTimeout(r, 1500));
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
