// The Docker runtime against the local engine, with the goat/echo and
// goat/faulty images built (once) by the same builder as `npm run images`.
// Skipped with a message when no engine answers; in CI (CI=true) it fails instead.
import { isGoatError } from '../../lib/errors.js';
import { DockerRuntime, type RuntimeTask } from '../../lib/runtime/index.js';
import test from 'ava';
import { docker, dockerTest, runDockerTests, imageBuilder, removeClusterContainers, requireEngine } from './helpers/docker.js';
import { freePort, holdPort, post } from './helpers/net.js';
import { TEST_CLUSTER, makeTask } from './helpers/tasks.js';
import { eventually } from './helpers/wait.js';

const ECHO = 'goat/echo:latest';
const FAULTY = 'goat/faulty:latest';
const runtime = new DockerRuntime({ cluster: TEST_CLUSTER });

if (runDockerTests) {
  test.before(async () => {
    requireEngine();
    const builder = await imageBuilder();
    await builder.buildImages({ docker });
  });
  test.after.always(async () => {
    await removeClusterContainers(TEST_CLUSTER);
    await runtime.close();
  });
}

function containersOf(task: RuntimeTask) {
  return docker.listContainers({ all: true, filters: { label: [`goat.task=${task.taskId}`] } });
}

dockerTest('the echo container answers the POST with the same body on its published port', async (t) => {
  const port = await freePort();
  const task = makeTask('echo', { image: ECHO, ports: [{ host: port, container: 7777 }], resources: { cpu: 0.5, memoryMb: 128 } });
  t.like(await runtime.prepare(task), { exists: false });
  const handle = await runtime.start(task);
  t.like(handle, { adopted: false, generation: 1, ports: [{ host: port, container: 7777 }] });

  t.deepEqual(await post(port, '{"Msg":"Hello, world!"}'), { status: 200, text: '{"Msg":"Hello, world!"}' });

  const info = await docker.getContainer(handle.runtimeId).inspect();
  t.is(info.Name, `/goat-${task.taskId}-g1`);
  t.like(info.Config.Labels, {
    'goat.cluster': TEST_CLUSTER,
    'goat.task': task.taskId,
    'goat.generation': '1',
    'goat.service': 'echo',
    'goat.slot': '0',
    'goat.node': 'node-test',
  });
  t.is(info.HostConfig.NanoCpus, 5e8);
  t.is(info.HostConfig.Memory, 128 * 1024 * 1024);
  const logs = await eventually('the POST in the logs', async () => {
    const tail = await runtime.logs(task.taskId, 1);
    return tail?.stdout.includes('POST /') ? tail : undefined;
  });
  t.is(logs.stdout[0], 'echo listening on 7777 (pid 1)');
  const stats = await runtime.stats(task.taskId, 1);
  t.true(stats !== undefined && stats.memoryMb > 1 && stats.cpuSeconds > 0, JSON.stringify(stats));
});

dockerTest('an engine-chosen host port is reported by start', async (t) => {
  const task = makeTask('echo', { image: ECHO, env: { PORT: '8080' }, ports: [{ container: 8080 }] });
  const handle = await runtime.start(task);
  const host = handle.ports[0]?.host;
  t.true(typeof host === 'number' && host > 0, JSON.stringify(handle.ports));
  t.is((await post(host as number, 'random port')).text, 'random port');
});

dockerTest('starting the same task instance twice, even concurrently, makes one container', async (t) => {
  const task = makeTask('echo', { image: ECHO });
  const other = new DockerRuntime({ cluster: TEST_CLUSTER });
  const [a, b] = await Promise.all([runtime.start(task), other.start(task)]);
  const c = await runtime.start(task);
  await other.close();
  t.is(a.runtimeId, b.runtimeId);
  t.is(c.runtimeId, a.runtimeId);
  t.true(c.adopted);
  t.is((await containersOf(task)).length, 1);
  t.like(await runtime.prepare(task), { exists: true });
});

dockerTest('a new runtime instance finds the containers by their labels', async (t) => {
  const task = makeTask('echo', { image: ECHO }, { slot: 3, generation: 7 });
  const handle = await runtime.start(task);
  const fresh = new DockerRuntime({ cluster: TEST_CLUSTER });
  const mine = (await fresh.list()).filter((s) => s.taskId === task.taskId);
  await fresh.close();
  t.is(mine.length, 1);
  t.like(mine[0], { generation: 7, slot: 3, service: 'echo', nodeId: 'node-test', cluster: TEST_CLUSTER, running: true, state: 'running', runtimeId: handle.runtimeId });
  const elsewhere = new DockerRuntime({ cluster: `${TEST_CLUSTER}-other` });
  t.false((await elsewhere.list()).some((s) => s.taskId === task.taskId), 'another cluster does not see it');
  await elsewhere.close();
});

dockerTest('stop sends SIGTERM, and SIGKILL after the timeout when it is ignored', async (t) => {
  const polite = makeTask('echo', { image: ECHO });
  const stubborn = makeTask('faulty', { image: FAULTY, command: ['--hang'] });
  await Promise.all([runtime.start(polite), runtime.start(stubborn)]);
  // As PID 1, node ignores SIGTERM until its handler is installed: wait until both programs are up.
  await eventually('echo to listen', async () => (await runtime.logs(polite.taskId, 1))?.stdout.some((l) => l.startsWith('echo listening')));
  await eventually('the hang message', async () => (await runtime.logs(stubborn.taskId, 1))?.stdout.includes('faulty: hanging'));

  const waiting = runtime.wait(polite.taskId, 1);
  t.like(await runtime.stop(polite.taskId, 1, 5000), { code: 0, reason: 'stopped', oomKilled: false });
  t.like(await waiting, { code: 0, reason: 'stopped' });

  const before = Date.now();
  const exit = await runtime.stop(stubborn.taskId, 1, 600);
  const elapsed = Date.now() - before;
  t.like(exit, { code: 137, reason: 'stopped' });
  t.true(elapsed >= 590 && elapsed < 5000, `stop took ${elapsed} ms`);
  t.true(exit?.logTail.includes('faulty: SIGTERM ignored'));
  t.like(await runtime.inspect(stubborn.taskId, 1), { running: false, state: 'exited' });
});

dockerTest('exit codes reach wait() with the output tail, and a restart reuses the container', async (t) => {
  const task = makeTask('faulty', { image: FAULTY, command: ['--exit-at-start', '3'] });
  const first = await runtime.start(task);
  const exit = await runtime.wait(task.taskId, 1);
  t.like(exit, { code: 3, oomKilled: false, reason: 'exited', message: 'exited with code 3' });
  t.deepEqual(exit.logTail, ['faulty: failing at start with code 3']);
  const again = await runtime.start(task);
  t.like(again, { adopted: false, runtimeId: first.runtimeId });
  t.is((await runtime.wait(task.taskId, 1)).code, 3);
  t.is((await containersOf(task)).length, 1);
});

dockerTest('a task over its memory limit is OOM-killed and wait() says so', async (t) => {
  const task = makeTask('faulty', { image: FAULTY, command: ['--alloc-mb', '256'], resources: { memoryMb: 64 } });
  await runtime.start(task);
  const exit = await runtime.wait(task.taskId, 1);
  t.like(exit, { oomKilled: true, reason: 'oom', code: 137 });
});

dockerTest('a missing image is a resource failure, never a pull', async (t) => {
  const task = makeTask('ghost', { image: 'goat/does-not-exist:latest' });
  const prepared = await t.throwsAsync(runtime.prepare(task));
  t.true(isGoatError(prepared, 'GOAT_ERR_RESOURCE'));
  t.like(isGoatError(prepared) ? prepared.details : {}, { resource: 'image', image: 'goat/does-not-exist:latest' });
  const started = await t.throwsAsync(runtime.start(task));
  t.true(isGoatError(started, 'GOAT_ERR_RESOURCE'));
  t.is(isGoatError(started) ? started.details['resource'] : undefined, 'image');
  t.is((await containersOf(task)).length, 0);
});

dockerTest('the disk check refuses a task whose image and diskMb do not fit', async (t) => {
  const capacity = await runtime.capacity();
  t.is(capacity.diskPath, (await docker.info()).DockerRootDir);
  const free = capacity.diskFreeMb ?? 0;
  const image = await docker.getImage(ECHO).inspect();
  const imageMb = Math.ceil(image.Size / 2 ** 20);
  const fits = await runtime.prepare(makeTask('echo', { image: ECHO, resources: { diskMb: 10 } }));
  t.is(fits.diskNeededMb, imageMb + 10);
  // Fits without the image, not with it: the image size counts.
  const err = await t.throwsAsync(runtime.prepare(makeTask('echo', { image: ECHO, resources: { diskMb: free - Math.floor(imageMb / 2) } })));
  t.true(isGoatError(err, 'GOAT_ERR_RESOURCE'));
  t.like(isGoatError(err) ? err.details : {}, { resource: 'disk', neededMb: free - Math.floor(imageMb / 2) + imageMb });
});

dockerTest('a host port in use is a resource failure, found by prepare or by the engine', async (t) => {
  const port = await freePort();
  const holder = await holdPort(port);
  try {
    const task = makeTask('echo', { image: ECHO, ports: [{ host: port, container: 7777 }] });
    const prepared = await t.throwsAsync(runtime.prepare(task));
    t.like(isGoatError(prepared, 'GOAT_ERR_RESOURCE') ? prepared.details : {}, { resource: 'port', port });
    const started = await t.throwsAsync(runtime.start(task));
    t.true(isGoatError(started, 'GOAT_ERR_RESOURCE'), started?.message);
    t.like(isGoatError(started) ? started.details : {}, { resource: 'port', port });
    t.is((await containersOf(task)).length, 0, 'the container that could not start is removed');
  } finally {
    holder.close();
  }
});

dockerTest('cpu beyond the engine is a resource failure', async (t) => {
  const { cpus } = await runtime.capacity();
  const err = await t.throwsAsync(runtime.prepare(makeTask('echo', { image: ECHO, resources: { cpu: cpus + 1 } })));
  t.like(isGoatError(err, 'GOAT_ERR_RESOURCE') ? err.details : {}, { resource: 'cpu' });
});

dockerTest('absent instances: wait rejects, stop and remove are no-ops, remove deletes', async (t) => {
  const task = makeTask('echo', { image: ECHO });
  const err = await t.throwsAsync(runtime.wait(task.taskId, 1));
  t.true(isGoatError(err, 'GOAT_ERR_NO_SUCH_TASK'));
  t.is(await runtime.stop(task.taskId, 1, 100), undefined);
  t.is(await runtime.inspect(task.taskId, 1), undefined);
  await runtime.remove(task.taskId, 1);
  await runtime.start(task);
  const waiting = runtime.wait(task.taskId, 1);
  await runtime.remove(task.taskId, 1);
  t.like(await waiting, { reason: 'stopped' });
  t.is((await containersOf(task)).length, 0);
});

dockerTest('health answers, and listeners hear the first observation', async (t) => {
  t.like(await runtime.health(), { ok: true });
  const heard = await new Promise((resolve) => {
    const off = runtime.onHealth((health) => {
      off();
      resolve(health);
    });
  });
  t.like(heard, { ok: true });
});
