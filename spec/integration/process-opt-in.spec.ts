/**
 * Issue 11 with real processes: running arbitrary programs is opt-in, and a
 * worker's errors reach the manager. A `worker --runtime auto` whose Docker
 * does not answer and which was not given `--allow-process` runs nothing: it
 * says why when it starts, nothing is placed on it, and `ps` says why a task
 * waits; no program is started. With
 * `--allow-process` it runs the same service; a command that cannot be
 * spawned shows its spawn error in `ps` too.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { CLI, ProcessCluster, ServerProcess } from '../helpers/cli-process.js';
import { livePidsWithArgs } from '../helpers/worker-process.js';
import { freePort } from '../runtime/helpers/net.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';

const TOKEN = `optin-token-${nanoid(12)}`;
const NO_DOCKER = { DOCKER_HOST: 'unix:///nonexistent/goat-no-docker.sock' };

interface Task { id: string; service: string; state: string; node: string | null; error: { code?: string; message: string } | null; failure: { kind: string; message: string } | null }

/** Worker processes started here (ProcessCluster kills only its own). */
const started: ServerProcess[] = [];

/** `worker --runtime auto` with Docker out of reach (and `extra` flags). */
function autoWorker(c: ProcessCluster, name: string, extra: string[] = []): ServerProcess {
  const dataDir = join(c.dir, name);
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GOAT_'))), ...NO_DOCKER };
  const proc = new ServerProcess(name, spawn(process.execPath, [CLI, 'worker', '--join', `ws://127.0.0.1:${c.port}`, '--token', TOKEN, '--data-dir', dataDir, '--name', name, '--runtime', 'auto', ...extra], { env, cwd: c.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })); // cwd: no cluster.config.ts there
  c.workers.push({ name, dataDir, proc });
  started.push(proc);
  return proc;
}

test('without Docker and without --allow-process a node runs nothing and says why; with it, the task runs; a spawn error shows in ps', async (t) => {
  const c = await ProcessCluster.create(await freePort(), TOKEN);
  t.teardown(async () => {
    await Promise.all(started.map((p) => p.kill9()));
    await c.cleanup();
  });
  await c.startManager();
  const locked = autoWorker(c, 'locked');
  await eventually('locked says why at start', () => /takes no tasks while Docker does not answer.*--allow-process/.test(locked.output), 20_000).catch((err: unknown) => { throw new Error(`${String(err)}: ${locked.output}`); });
  await eventually('locked linked', async () => (await c.api<{ name: string }[]>('GET', '/v1/nodes')).json.some((n) => n.name === 'locked'), 20_000);
  // An image task is never placed there: it stays pending, and ps says the node takes no tasks.
  t.is((await c.api('PUT', '/v1/services/img', { name: 'img', replicas: 1, task: { image: 'goat/echo' } })).status, 201);
  const refused = await eventually('img pending with the reason in ps', async () => (await c.cliJson<Task[]>('ps')).find((x) => x.service === 'img' && x.state === 'pending' && x.error !== null), 20_000);
  t.is(refused.node, null);
  t.regex(refused.error?.message ?? '', /takes no tasks/);
  // A command task is never placed there either: its pending reason says the node takes no tasks; nothing starts.
  const marker = `optin-${nanoid(8)}`;
  c.markers.add(marker);
  t.is((await c.api('PUT', '/v1/services/echo', { name: 'echo', replicas: 1, task: { command: ['node', ECHO_SERVER, marker], env: { PORT: '0' } } })).status, 201);
  const pending = await eventually('echo pending with a reason', async () => (await c.cliJson<Task[]>('ps')).find((x) => x.service === 'echo' && x.state === 'pending' && x.error !== null), 20_000);
  t.regex(pending.error?.message ?? '', /takes no tasks/);
  t.deepEqual(await livePidsWithArgs(marker), [], 'no program was started on the locked node');
  t.true(locked.alive);

  // The same on a node that opted in: the task runs there.
  autoWorker(c, 'open', ['--allow-process']);
  await eventually('echo running on the opted-in node', async () => (await c.cliJson<Task[]>('ps')).some((x) => x.service === 'echo' && x.state === 'running'), 30_000);
  t.is((await livePidsWithArgs(marker)).length, 1);

  // A program that cannot be spawned: its error reaches ps.
  t.is((await c.api('PUT', '/v1/services/nope', { name: 'nope', replicas: 1, task: { command: [`/nonexistent/${marker}`], restart: { policy: 'no' } } })).status, 201);
  const failed = await eventually('the spawn error in ps', async () => (await c.cliJson<Task[]>('ps')).find((x) => x.service === 'nope' && (x.error !== null || x.failure !== null)), 30_000);
  t.regex(JSON.stringify([failed.error, failed.failure]), /nonexistent|ENOENT|executable/);
  // The human `ps` says it too (what a user reads).
  const ps = await c.cli('ps', '-a');
  t.is(ps.code, 0, ps.stderr);
  const line = ps.stdout.split('\n').find((l) => l.includes('nope')) ?? '';
  t.regex(line, /nonexistent|ENOENT|executable/, ps.stdout);

  // `worker.allowProcess: true` in the config file opts in as the flag does.
  const configDir = join(c.dir, 'optin-config');
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'cluster.config.ts'), 'export default { worker: { allowProcess: true } };\n');
  const viaConfig = autoWorker(c, 'via-config', ['--config', join(configDir, 'cluster.config.ts')]);
  await eventually('via-config falls back to processes', () => /worker \S+ \(process runtime\)/.test(viaConfig.output) && viaConfig.output.includes('linked to'), 20_000)
    .catch((err: unknown) => { throw new Error(`${String(err)}: ${viaConfig.output}`); });
  t.false(/takes no tasks/.test(viaConfig.output));
});
