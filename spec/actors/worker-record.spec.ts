/**
 * Issue 11: a worker's record (`worker.json`) out of step with what runs,
 * with real processes and real Docker containers. A damaged record is refused
 * and left as it is; a record that lost its assignments gets what it does not
 * explain stopped on boot (no orphan, no second copy), and the manager's
 * re-sent assign is applied again; a stopped task's folder goes with it.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, joinCluster } from '../../actors/worker/index.js';
import { ClusterIdFile } from '../../lib/cluster-id.js';
import { GoatError } from '../../lib/errors.js';
import { ProcessRuntime, type Runtime } from '../../lib/runtime/index.js';
import { startTestWorker } from '../helpers/worker.js';
import { docker, dockerTest, imageBuilder, removeClusterContainers, requireEngine, runDockerTests } from '../runtime/helpers/docker.js';
import { freePort } from '../runtime/helpers/net.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually, pidExists } from '../runtime/helpers/wait.js';

const CLUSTER = `goat-record-${process.pid}`;
const quiet = { info: () => undefined, warn: () => undefined };

test('a damaged worker.json (garbage, empty, null, {}, wrong fields) is refused, named, and left untouched', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-record-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'worker.json');
  for (const text of ['garbage{', '', 'null', '{}', '[]', '{"version":1,"nodeId":"n","name":"n","assignments":[null],"applied":[]}']) {
    await writeFile(file, text);
    const err = await t.throwsAsync(Worker.start({ dataDir: dir, runtime: 'process', cluster: CLUSTER, logger: quiet }), { instanceOf: GoatError }, JSON.stringify(text));
    t.is(err?.code, 'GOAT_ERR_STORE_CORRUPT');
    t.true(err?.message.includes(file), 'names the file');
    t.regex(err?.message ?? '', /move it aside|backup/);
    t.is(await readFile(file, 'utf8'), text, 'the file is left as it was');
  }
});

test('a damaged cluster-id file (garbage, empty, unreadable) is refused, named, and left untouched; nothing starts', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-record-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster-id');
  // Read as "no cluster", such a worker would be admitted by any manager, and a fresh one would stop its tasks.
  for (const text of ['', '\n', 'garbage{}', 'c-0123 extra', '\0\0\0\0', 'x'.repeat(200)]) {
    await writeFile(file, text);
    let started: Awaited<ReturnType<typeof joinCluster>> | undefined;
    const err = await t.throwsAsync(async () => {
      started = await joinCluster({ join: 'ws://127.0.0.1:9', token: 't', dataDir: dir, runtime: 'process', cluster: CLUSTER, logger: quiet });
    }, { instanceOf: GoatError }, JSON.stringify(text));
    await started?.stop();
    t.is(err?.code, 'GOAT_ERR_STORE_CORRUPT');
    t.true(err?.message.includes(file), 'names the file');
    t.regex(err?.message ?? '', /move it aside|backup/);
    t.is(await readFile(file, 'utf8'), text, 'the file is left as it was');
    t.false(existsSync(join(dir, 'worker.json')), 'no worker was started');
  }
  await rm(file);
  await mkdir(file); // unreadable as a file
  t.is((await t.throwsAsync(ClusterIdFile.load(dir), { instanceOf: GoatError }))?.code, 'GOAT_ERR_STORE_CORRUPT');
  await rm(file, { recursive: true });
  t.is((await ClusterIdFile.load(dir)).id, undefined, 'a missing file is no cluster yet');
  await writeFile(file, 'c-0123456789abcdef\n');
  t.is((await ClusterIdFile.load(dir)).id, 'c-0123456789abcdef', 'a valid file is read');
});

test('a record that lost its assignments: the orphans are stopped on boot, and the re-sent assign is applied', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-record-'));
  const first = await startTestWorker(t, { runtime: 'process', cluster: CLUSTER, dataDir: dir });
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const assign = async (w: Worker, slot: number, port: number) => w.assign({
    cmdId: `assign:echo.${slot}.x:1`, taskId: `echo.${slot}.x`, service: 'echo', slot, generation: 1, spec: { command: ['node', ECHO_SERVER], ports: [{ host: port, container: 7777 }] },
  });
  const ports = [await freePort(), await freePort()];
  for (const slot of [0, 1]) t.true((await assign(first.w, slot, ports[slot]!)).applied);
  const pids = await Promise.all([0, 1].map((slot) => eventually('running', async () => {
    const s = await first.w.runtime.inspect(`echo.${slot}.x`, 1);
    return s?.running ? Number(s.runtimeId) : undefined;
  }, 20_000)));
  await first.shutdown(); // the worker process "dies"; its tasks keep running
  t.true(pids.every((pid) => pidExists(pid)));
  const file = join(dir, 'worker.json');
  const record = JSON.parse(await readFile(file, 'utf8')) as { assignments: unknown[] };
  await writeFile(file, JSON.stringify({ ...record, assignments: [] }));

  const second = await startTestWorker(t, { runtime: 'process', cluster: CLUSTER, dataDir: dir });
  // What the record does not explain was stopped before anything started: no orphan left running.
  await eventually('orphans stopped', () => pids.every((pid) => !pidExists(pid)), 10_000);
  t.deepEqual(await second.w.runtime.list(), []);
  // The manager re-sends the assigns it never saw acknowledged by this record: applied again.
  for (const slot of [0, 1]) t.deepEqual(await assign(second.w, slot, ports[slot]!), { applied: true });
  await eventually('both running again', () => [0, 1].every((slot) => second.w.task(`echo.${slot}.x`)?.state === 'running'), 20_000);
  t.is((await second.w.runtime.list()).filter((s) => s.running).length, 2, 'one process per replica, not four');
  // A second re-send is not applied twice.
  t.false((await assign(second.w, 0, ports[0]!)).applied);
  // Stopped on purpose: gone with its folder, and a late re-send does not revive it.
  await second.w.stopTask('echo.1.x');
  t.false(existsSync(join(dir, 'tasks', 'echo.1.x-g1')));
  t.false((await assign(second.w, 1, ports[1]!)).applied);
});

/** `inner`, as an engine that does not answer until `up()`: every call fails GOAT_ERR_RUNTIME_UNAVAILABLE, health says why. */
function engineAway(inner: Runtime): { runtime: Runtime; up(): void } {
  let down = true;
  const away = (): GoatError => new GoatError('GOAT_ERR_RUNTIME_UNAVAILABLE', 'engine away (test)', { temporary: true });
  const runtime = new Proxy(inner, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (prop === 'health') return async () => (down ? { ok: false, detail: 'engine away (test)', at: Date.now() } : target.health());
      if (prop === 'close' || prop === 'onHealth') return fn.bind(target);
      return (...args: unknown[]) => (down ? Promise.reject(away()) : fn.apply(target, args));
    },
  });
  return { runtime, up: () => (down = false) };
}

test('the boot sweep put off by an engine that does not answer runs when it first does: the orphan is stopped, the recorded task adopted', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-record-'));
  const first = await startTestWorker(t, { runtime: 'process', cluster: CLUSTER, dataDir: dir });
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ports = [await freePort(), await freePort()];
  for (const slot of [0, 1]) {
    await first.w.assign({ taskId: `late.${slot}.x`, service: 'late', slot, generation: 1, spec: { command: ['node', ECHO_SERVER], ports: [{ host: ports[slot]!, container: 7777 }] } });
  }
  const pids = await Promise.all([0, 1].map((slot) => eventually('running', async () => {
    const s = await first.w.runtime.inspect(`late.${slot}.x`, 1);
    return s?.running ? Number(s.runtimeId) : undefined;
  }, 20_000)));
  const nodeId = first.w.nodeId;
  await first.shutdown();
  // The record lost slot 1: its process is unexplained.
  const file = join(dir, 'worker.json');
  const record = JSON.parse(await readFile(file, 'utf8')) as { assignments: { slot: number }[] };
  await writeFile(file, JSON.stringify({ ...record, assignments: record.assignments.filter((a) => a.slot === 0) }));

  const engine = engineAway(new ProcessRuntime({ dataDir: dir, cluster: CLUSTER, nodeId }));
  const warnings: string[] = [];
  const second = await Worker.start({
    dataDir: dir, cluster: CLUSTER, runtimeInstance: { runtime: engine.runtime, kind: 'process' }, runtimeBackoff: { initialMs: 50, maxMs: 200 },
    logger: { info: () => undefined, warn: (m: string) => warnings.push(m) },
  });
  t.teardown(async () => {
    await second.shutdown().catch(() => undefined);
    for (const s of await engine.runtime.list().catch(() => [])) await engine.runtime.remove(s.taskId, s.generation).catch(() => undefined);
  });
  t.true(warnings.some((m) => m.includes('swept once it does')), 'says the sweep is put off');
  t.is(second.status, 'degraded');
  t.true(pids.every((pid) => pidExists(pid)), 'nothing touched while the engine does not answer');

  engine.up();
  await eventually('the orphan is stopped once the engine answers', () => !pidExists(pids[1]!), 15_000);
  await eventually('the recorded task is adopted', () => second.task('late.0.x')?.state === 'running', 15_000);
  t.is(second.status, 'ready');
  t.true(pidExists(pids[0]!), 'the recorded task was adopted, not restarted');
  t.deepEqual((await engine.runtime.list()).map((s) => `${s.taskId}@${s.generation}`), ['late.0.x@1']);
  t.true(warnings.some((m) => m.includes('late.1.x@1') && m.includes('not in this worker\'s record')));
});

if (runDockerTests) test.before(() => requireEngine());

dockerTest('docker: a container the record does not explain is removed on boot; a killed one does not show running', async (t) => {
  await (await imageBuilder()).buildImages({ docker, apps: ['echo'] });
  const cluster = `${CLUSTER}-d`;
  t.teardown(() => removeClusterContainers(cluster).then(() => undefined));
  const dir = await mkdtemp(join(tmpdir(), 'goat-record-d-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const first = await startTestWorker(t, { runtime: 'docker', cluster, dataDir: dir });
  await first.w.assign({ taskId: 'web.0.d', service: 'web', slot: 0, generation: 1, spec: { image: 'goat/echo', restart: { policy: 'no' } } });
  await eventually('container running', () => first.w.task('web.0.d')?.state === 'running', 30_000);
  // Killed behind the worker's back: the task must not show running.
  const [c] = await docker.listContainers({ filters: { label: [`goat.cluster=${cluster}`, 'goat.task=web.0.d'] } });
  await docker.getContainer(c!.Id).kill();
  await eventually('not running after a kill', () => first.w.task('web.0.d')?.state !== 'running', 15_000);
  await first.w.assign({ taskId: 'web.1.d', service: 'web', slot: 1, generation: 1, spec: { image: 'goat/echo' } });
  await eventually('second running', () => first.w.task('web.1.d')?.state === 'running', 30_000);
  await first.shutdown();
  const file = join(dir, 'worker.json');
  const record = JSON.parse(await readFile(file, 'utf8')) as { assignments: unknown[] };
  await writeFile(file, JSON.stringify({ ...record, assignments: [] }));
  const second = await startTestWorker(t, { runtime: 'docker', cluster, dataDir: dir });
  t.deepEqual(await second.w.runtime.list(), [], 'no container runs unsupervised');
  t.deepEqual(await docker.listContainers({ all: true, filters: { label: [`goat.cluster=${cluster}`] } }), []);
});
