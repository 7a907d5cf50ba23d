/**
 * The worker process dies hard (`kill -9`) and is started again on the same
 * data dir: its tasks kept running meanwhile, and the new process re-adopts
 * them — same container or process, zero restarts, no duplicate. The worker
 * runs as its own OS process (spec/fixtures/worker-main.ts). The process
 * runtime part runs everywhere; the docker part skips without an engine and
 * fails when CI=true.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessRuntime } from '../../lib/runtime/index.js';
import { livePidsWithArgs, startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { docker, dockerUp, imageBuilder, removeClusterContainers, requireEngine, runDockerTests } from '../runtime/helpers/docker.js';
import { freePort, post } from '../runtime/helpers/net.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { pidExists } from '../runtime/helpers/wait.js';

const ECHO = 'goat/echo:latest';
const CLUSTER = `goat-k9-${process.pid}-${Date.now().toString(36)}`;

async function tempDir(t: ExecutionContext, runtime: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `goat-kill9-${runtime}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Waits until the task is reported running by `wp`, and returns that view. */
function running(wp: WorkerProcess, id: string) {
  return wp.until(`task ${id} running in worker process ${wp.pid}`, () => {
    const view = wp.task(id);
    return view?.state === 'running' ? view : undefined;
  });
}

/** Restarts the worker reported for `id` by `wp` (supervision events of its path). */
function restartsScheduled(wp: WorkerProcess, id: string): number {
  return wp.events().filter((e) => e.type === 'supervision' && e.event.type === 'restart_scheduled' && e.event.path.endsWith(`/${id}`)).length;
}

test('process runtime: kill -9 the worker, start it again → the same process is re-adopted, zero restarts, no duplicate', async (t) => {
  const dir = await tempDir(t, 'process');
  const id = 'echo.0.p9';
  // A unique argument, to count the task's processes in /proc.
  const marker = `--goat-kill9-${process.pid}-${Date.now().toString(36)}`;
  t.teardown(async () => {
    const runtime = new ProcessRuntime({ dataDir: dir });
    await runtime.remove(id, 1).catch(() => undefined);
    await runtime.close();
    // Whatever else runs with the marker (a duplicate the runtime lost track of) goes too.
    for (const pid of await livePidsWithArgs(ECHO_SERVER, marker)) process.kill(pid, 'SIGKILL');
  });
  const port = await freePort();
  const assign = {
    cmdId: 'c-p9', taskId: id, service: 'echo', slot: 0, generation: 1,
    spec: { command: [process.execPath, ECHO_SERVER, marker], ports: [{ host: port, container: 7777 }], restart: { policy: 'always' } },
  };

  const first = startWorkerProcess(t, { dataDir: dir, runtime: 'process', cluster: CLUSTER, assign });
  const ready = await first.ready();
  t.is(ready.runtime, 'process');
  const view = await running(first, id);
  t.false(view.adopted, first.transcript());
  const [pid, ...others] = await livePidsWithArgs(ECHO_SERVER, marker);
  t.truthy(pid);
  t.deepEqual(others, []);
  t.is((await post(port, 'before')).text, 'before');

  await first.kill9();
  t.true(pidExists(pid as number), 'the task outlives its worker');
  t.is((await post(port, 'orphaned')).text, 'orphaned');

  const second = startWorkerProcess(t, { dataDir: dir, runtime: 'process', cluster: CLUSTER });
  t.is((await second.ready()).nodeId, ready.nodeId, 'the node id is stable');
  const adopted = await running(second, id);
  t.true(adopted.adopted, second.transcript());
  t.is(adopted.restarts, 0);
  t.is(restartsScheduled(second, id), 0);
  t.deepEqual(await livePidsWithArgs(ECHO_SERVER, marker), [pid as number], 'the same process, and only it');
  const runtime = new ProcessRuntime({ dataDir: dir, cluster: CLUSTER });
  t.is((await runtime.inspect(id, 1))?.runtimeId, String(pid));
  t.deepEqual((await runtime.list()).filter((s) => s.running).map((s) => s.taskId), [id]);
  await runtime.close();
  t.is((await post(port, 'after')).text, 'after');
  // Still adopted a moment later: no late restart or duplicate start.
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.like(second.task(id), { state: 'running', adopted: true, restarts: 0 });
  t.deepEqual(await livePidsWithArgs(ECHO_SERVER, marker), [pid as number]);
});

/** `test.serial` when the docker tests run, else skipped. */
const dockerSerial = runDockerTests ? test.serial : test.serial.skip;

if (dockerUp) {
  test.after.always(async () => {
    await removeClusterContainers(CLUSTER);
  });
}

const containersOf = (taskId: string) =>
  docker.listContainers({ all: true, filters: { label: [`goat.task=${taskId}`, `goat.cluster=${CLUSTER}`] } });

dockerSerial('docker runtime: kill -9 the worker, start it again → the same container is re-adopted, zero restarts, no duplicate', async (t) => {
  // Here rather than in test.before, so that the process runtime test runs whatever the engine does.
  requireEngine();
  await (await imageBuilder()).buildImages({ docker });
  const dir = await tempDir(t, 'docker');
  // An id of this run: container names are engine-wide, and one left by another run must not collide with it.
  const id = `echo.0.d9${Math.random().toString(36).slice(2, 8)}`;
  const port = await freePort();
  const assign = { cmdId: 'c-d9', taskId: id, service: 'echo', slot: 0, generation: 1, spec: { image: ECHO, ports: [{ host: port, container: 7777 }], restart: { policy: 'always' } } };

  const first = startWorkerProcess(t, { dataDir: dir, runtime: 'docker', cluster: CLUSTER, assign });
  const ready = await first.ready();
  t.is(ready.runtime, 'docker');
  t.false((await running(first, id)).adopted, first.transcript());
  const before = await containersOf(id);
  t.is(before.length, 1);
  const containerId = before[0]?.Id as string;
  const startedAt = (await docker.getContainer(containerId).inspect()).State.StartedAt;
  t.is((await post(port, 'before')).text, 'before');

  await first.kill9();
  t.true((await docker.getContainer(containerId).inspect()).State.Running, 'the container outlives its worker');
  t.is((await post(port, 'orphaned')).text, 'orphaned');

  const second = startWorkerProcess(t, { dataDir: dir, runtime: 'docker', cluster: CLUSTER });
  t.is((await second.ready()).nodeId, ready.nodeId, 'the node id is stable');
  const adopted = await running(second, id);
  t.true(adopted.adopted, second.transcript());
  t.is(adopted.restarts, 0);
  t.is(restartsScheduled(second, id), 0);
  const after = await containersOf(id);
  t.deepEqual(after.map((c) => [c.Id, c.State]), [[containerId, 'running']], 'the same container, and only it');
  const info = await docker.getContainer(containerId).inspect();
  t.is(info.RestartCount, 0);
  t.is(info.State.StartedAt, startedAt, 'never started again');
  t.is((await post(port, 'after')).text, 'after');
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.like(second.task(id), { state: 'running', adopted: true, restarts: 0 });
  t.is((await containersOf(id)).length, 1);
  t.is((await docker.getContainer(containerId).inspect()).State.StartedAt, startedAt, 'still never started again');
});
