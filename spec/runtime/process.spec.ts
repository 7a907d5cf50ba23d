// The process runtime, as a worker uses it: tasks are local process groups
// with PORT set, logs in files, records that a new runtime adopts.
import test from 'ava';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isGoatError } from '../../lib/errors.js';
import { ProcessRuntime, type RuntimeTask } from '../../lib/runtime/index.js';
import { freePort, holdPort, post } from './helpers/net.js';
import { ECHO_SERVER, FAULTY_SERVER } from './helpers/repo.js';
import { TEST_CLUSTER, makeTask, removeTempDataDirs, tempDataDir } from './helpers/tasks.js';
import { eventually, pidExists, pidGone } from './helpers/wait.js';

const NODE = process.execPath;
const runtimes: ProcessRuntime[] = [];
const started: Array<{ runtime: ProcessRuntime; task: RuntimeTask }> = [];

async function newRuntime(dataDir?: string): Promise<ProcessRuntime> {
  const runtime = new ProcessRuntime({ dataDir: dataDir ?? (await tempDataDir()), cluster: TEST_CLUSTER, pollMs: 50 });
  runtimes.push(runtime);
  return runtime;
}

async function startTask(runtime: ProcessRuntime, task: RuntimeTask) {
  started.push({ runtime, task });
  return runtime.start(task);
}

test.after.always(async () => {
  for (const { runtime, task } of started) await runtime.remove(task.taskId, task.generation).catch(() => undefined);
  for (const runtime of runtimes) await runtime.close();
  await removeTempDataDirs();
});

test('echo answers the POST with the same body on PORT = the first host port', async (t) => {
  const runtime = await newRuntime();
  const port = await freePort();
  const task = makeTask('echo', { command: [NODE, ECHO_SERVER], ports: [{ host: port, container: 7777 }] });
  const handle = await startTask(runtime, task);
  t.false(handle.adopted);
  t.deepEqual(handle.ports, [{ host: port, container: 7777 }]);

  const reply = await post(port, '{"Msg":"Hello, world!"}');
  t.deepEqual(reply, { status: 200, text: '{"Msg":"Hello, world!"}' });

  const logs = await runtime.logs(task.taskId, task.generation);
  t.true(logs?.stdout.includes(`echo listening on ${port} (pid ${handle.runtimeId})`), JSON.stringify(logs));
  const status = await runtime.inspect(task.taskId, task.generation);
  t.like(status, { running: true, state: 'running', service: 'echo', slot: 0, cluster: TEST_CLUSTER, runtimeId: handle.runtimeId });
});

test('PORT falls back to the container port when no host port is given', async (t) => {
  const runtime = await newRuntime();
  const port = await freePort();
  const task = makeTask('echo', { command: [NODE, ECHO_SERVER], ports: [{ container: port }] });
  await startTask(runtime, task);
  t.is((await post(port, 'ping')).text, 'ping');
});

test('the task env is passed, and GOAT_* settings of the worker are not', async (t) => {
  const runtime = new ProcessRuntime({ dataDir: await tempDataDir(), env: { PATH: process.env['PATH'], GOAT_TOKEN: 'secret' } });
  runtimes.push(runtime);
  const script = 'console.log(JSON.stringify({ greeting: process.env.GREETING, token: process.env.GOAT_TOKEN ?? null }))';
  const task = makeTask('env', { command: [NODE, '-e', script], env: { GREETING: 'hi' } });
  await startTask(runtime, task);
  const exit = await runtime.wait(task.taskId, task.generation);
  t.is(exit.code, 0);
  t.deepEqual(JSON.parse(exit.logTail[0] ?? 'null'), { greeting: 'hi', token: null });
});

test('exit codes and the output tail reach wait(); logs land in files in the task folder', async (t) => {
  const dataDir = await tempDataDir();
  const runtime = await newRuntime(dataDir);
  const task = makeTask('faulty', { command: [NODE, FAULTY_SERVER, '--exit-at-start', '3'] });
  await startTask(runtime, task);
  const exit = await runtime.wait(task.taskId, task.generation);
  t.like(exit, { code: 3, signal: null, oomKilled: false, reason: 'exited', message: 'exited with code 3' });
  t.true(exit.logTail.includes('faulty: failing at start with code 3'));

  const folder = join(dataDir, 'tasks', `${task.taskId}-g1`);
  t.is(await readFile(join(folder, 'stderr.log'), 'utf8'), 'faulty: failing at start with code 3\n');
  t.true((await stat(join(folder, 'stdout.log'))).isFile());
  const record = JSON.parse(await readFile(join(folder, 'process.json'), 'utf8')) as { exit?: { code: number } };
  t.is(record.exit?.code, 3);
  t.like(await runtime.inspect(task.taskId, task.generation), { running: false, state: 'exited', exit: { code: 3, reason: 'exited' } });
});

test('starting an exited task again runs it again in the same folder, appending to its logs', async (t) => {
  const runtime = await newRuntime();
  const task = makeTask('faulty', { command: [NODE, FAULTY_SERVER, '--exit-at-start', '4'] });
  const first = await startTask(runtime, task);
  await runtime.wait(task.taskId, task.generation);
  const second = await runtime.start(task);
  t.false(second.adopted);
  t.not(second.runtimeId, first.runtimeId);
  t.is((await runtime.wait(task.taskId, task.generation)).code, 4);
  t.deepEqual((await runtime.logs(task.taskId, task.generation))?.stderr, [
    'faulty: failing at start with code 4',
    'faulty: failing at start with code 4',
  ]);
});

test('stop sends SIGTERM and reports the task as stopped', async (t) => {
  const runtime = await newRuntime();
  const port = await freePort();
  const task = makeTask('echo', { command: [NODE, ECHO_SERVER], ports: [{ host: port, container: 7777 }] });
  await startTask(runtime, task);
  await post(port, 'up?');
  const waiting = runtime.wait(task.taskId, task.generation);
  const exit = await runtime.stop(task.taskId, task.generation, 5000);
  t.like(exit, { code: 0, signal: null, reason: 'stopped' });
  t.like(await waiting, { code: 0, reason: 'stopped' });
  t.true(exit?.logTail.includes('echo: SIGTERM, exiting'));
  t.like(await runtime.stop(task.taskId, task.generation, 5000), { reason: 'stopped' }, 'stopping again is a no-op');
});

test('stop escalates to SIGKILL after the timeout when SIGTERM is ignored', async (t) => {
  const runtime = await newRuntime();
  const task = makeTask('faulty', { command: [NODE, FAULTY_SERVER, '--hang'] });
  await startTask(runtime, task);
  await eventually('the hang message', async () => (await runtime.logs(task.taskId, task.generation))?.stdout.includes('faulty: hanging'));
  const before = Date.now();
  const exit = await runtime.stop(task.taskId, task.generation, 400);
  const elapsed = Date.now() - before;
  t.like(exit, { code: 137, signal: 'SIGKILL', reason: 'stopped' });
  t.true(elapsed >= 390 && elapsed < 5000, `stop took ${elapsed} ms`);
  t.true(exit?.logTail.includes('faulty: SIGTERM ignored'));
});

test('stop kills the whole process group, children included', async (t) => {
  const runtime = await newRuntime();
  const port = await freePort();
  const task = makeTask('faulty', { command: [NODE, FAULTY_SERVER, '--spawn-child'], ports: [{ container: port }] });
  await startTask(runtime, task);
  const line = await eventually('the child pid line', async () =>
    (await runtime.logs(task.taskId, task.generation))?.stdout.find((l) => l.startsWith('child pid ')),
  );
  const childPid = Number(line.slice('child pid '.length));
  t.true(pidExists(childPid));
  await runtime.stop(task.taskId, task.generation, 2000);
  t.true(await pidGone(childPid), 'the child of the task was killed with it');
});

test('a new runtime on the same data dir lists the live process and adopts it instead of starting it twice', async (t) => {
  const dataDir = await tempDataDir();
  const first = await newRuntime(dataDir);
  // A port free when chosen can be taken by another test before the echo binds it (it then exits, and the POST
  // below would reach that other program): the echo must say it listens, else it gets another port.
  let port = 0;
  let task: RuntimeTask | undefined;
  let handle: Awaited<ReturnType<typeof startTask>> | undefined;
  for (let attempt = 1; !task; attempt++) {
    port = await freePort();
    const candidate = makeTask('echo', { command: [NODE, ECHO_SERVER], ports: [{ host: port, container: 7777 }] });
    const started = await startTask(first, candidate);
    const outcome = await eventually('the echo listens or exits', async () => {
      if ((await first.logs(candidate.taskId, 1))?.stdout.some((l) => l.startsWith('echo listening'))) return 'listens';
      return (await first.list()).some((s) => s.taskId === candidate.taskId && !s.running) ? 'exited' : undefined;
    });
    if (outcome === 'listens') [task, handle] = [candidate, started];
    else {
      t.true(attempt < 3, `the echo could not bind a free port three times (last ${port})`);
      await first.remove(candidate.taskId, candidate.generation); // gone from the data dir the second runtime lists
    }
  }

  const second = await newRuntime(dataDir);
  const listed = await second.list();
  t.is(listed.length, 1);
  t.like(listed[0], { taskId: task.taskId, generation: 1, running: true, runtimeId: handle!.runtimeId, ports: [{ host: port, container: 7777 }] });

  t.like(await second.prepare(task), { exists: true });
  const again = await second.start(task);
  t.like(again, { adopted: true, runtimeId: handle!.runtimeId });
  t.is((await post(port, 'still one')).text, 'still one');
  const listening = (await second.logs(task.taskId, 1))?.stdout.filter((l) => l.startsWith('echo listening')) ?? [];
  t.is(listening.length, 1, 'the program started once');

  const waiting = second.wait(task.taskId, 1); // polls: not its child
  await second.stop(task.taskId, 1, 5000);
  t.like(await waiting, { reason: 'stopped' });
});

test('two concurrent starts of one task instance start one process', async (t) => {
  const runtime = await newRuntime();
  const task = makeTask('faulty', { command: [NODE, FAULTY_SERVER, '--hang'] });
  started.push({ runtime, task });
  const [a, b] = await Promise.all([runtime.start(task), runtime.start(task)]);
  t.is(a.runtimeId, b.runtimeId);
  t.deepEqual([a.adopted, b.adopted].sort(), [false, true]);
});

test('a recorded pid that now belongs to another process is not adopted (start time differs)', async (t) => {
  const dataDir = await tempDataDir();
  const first = await newRuntime(dataDir);
  const task = makeTask('faulty', { command: [NODE, FAULTY_SERVER, '--hang'] });
  const original = await startTask(first, task);
  const file = join(dataDir, 'tasks', `${task.taskId}-g1`, 'process.json');
  const record = JSON.parse(await readFile(file, 'utf8')) as { startTime: number };
  await writeFile(file, JSON.stringify({ ...record, startTime: record.startTime + 1 }));
  try {
    const second = await newRuntime(dataDir);
    t.like((await second.list())[0], { running: false, state: 'exited' });
    const fresh = await second.start(task);
    t.false(fresh.adopted);
    t.not(fresh.runtimeId, original.runtimeId);
    t.true(pidExists(Number(original.runtimeId)), 'the process that is not ours was left alone');
  } finally {
    process.kill(-Number(original.runtimeId), 'SIGKILL');
  }
});

test('prepare classifies what this node lacks as GOAT_ERR_RESOURCE', async (t) => {
  const runtime = await newRuntime();
  const capacity = await runtime.capacity();
  const resourceOf = async (task: RuntimeTask) => {
    const err = await t.throwsAsync(runtime.prepare(task));
    return isGoatError(err, 'GOAT_ERR_RESOURCE') ? err.details['resource'] : err?.message;
  };
  t.is(await resourceOf(makeTask('x', { command: ['goat-no-such-program'] })), 'executable');
  t.is(await resourceOf(makeTask('x', { command: [NODE], resources: { diskMb: (capacity.diskFreeMb ?? 0) + 1024 } })), 'disk');
  t.is(await resourceOf(makeTask('x', { command: [NODE], resources: { cpu: capacity.cpus + 1 } })), 'cpu');
  t.is(await resourceOf(makeTask('x', { command: [NODE], resources: { memoryMb: capacity.memoryMb * 2 } })), 'memory');
  const port = await freePort();
  const holder = await holdPort(port);
  try {
    t.is(await resourceOf(makeTask('x', { command: [NODE], ports: [{ container: port }] })), 'port');
  } finally {
    holder.close();
  }
  const ok = await runtime.prepare(makeTask('x', { command: ['node'], resources: { diskMb: 1 } }));
  t.like(ok, { exists: false, diskNeededMb: 1 });
  const invalid = await t.throwsAsync(runtime.prepare(makeTask('x', {})));
  t.true(isGoatError(invalid, 'GOAT_ERR_INVALID_SPEC'));
  t.is(isGoatError(invalid) ? invalid.details['field'] : undefined, 'spec.command');
});

test('starting a missing executable is a resource failure and leaves nothing behind', async (t) => {
  const runtime = await newRuntime();
  const task = makeTask('x', { command: ['goat-no-such-program'] });
  const err = await t.throwsAsync(runtime.start(task));
  t.true(isGoatError(err, 'GOAT_ERR_RESOURCE'));
  t.deepEqual(await runtime.list(), []);
});

test('remove kills a running task and deletes its folder; absent tasks are no-ops', async (t) => {
  const dataDir = await tempDataDir();
  const runtime = await newRuntime(dataDir);
  const task = makeTask('faulty', { command: [NODE, FAULTY_SERVER, '--hang'] });
  const handle = await startTask(runtime, task);
  await runtime.remove(task.taskId, task.generation);
  t.true(await pidGone(Number(handle.runtimeId)));
  await t.throwsAsync(stat(join(dataDir, 'tasks', `${task.taskId}-g1`)), { code: 'ENOENT' });
  t.is(await runtime.inspect(task.taskId, task.generation), undefined);
  await runtime.remove(task.taskId, task.generation);
  t.is(await runtime.stop(task.taskId, task.generation, 100), undefined);
  const err = await t.throwsAsync(runtime.wait(task.taskId, task.generation));
  t.true(isGoatError(err, 'GOAT_ERR_NO_SUCH_TASK'));
});

test('stats, capacity and health describe the node and a running task', async (t) => {
  const runtime = await newRuntime();
  const port = await freePort();
  const task = makeTask('echo', { command: [NODE, ECHO_SERVER], ports: [{ container: port }] });
  await startTask(runtime, task);
  await post(port, 'warm up');
  const stats = await runtime.stats(task.taskId, task.generation);
  t.true(stats !== undefined && stats.memoryMb > 5 && stats.cpuSeconds > 0, JSON.stringify(stats));
  const capacity = await runtime.capacity();
  t.true(capacity.cpus >= 1 && capacity.memoryMb > 0 && (capacity.diskFreeMb ?? 0) > 0);
  t.true((await runtime.health()).ok);
  const heard = await new Promise((resolve) => runtime.onHealth(resolve));
  t.like(heard, { ok: true });
});

test('an invalid task id is refused before anything runs', async (t) => {
  const runtime = await newRuntime();
  const err = await t.throwsAsync(runtime.start(makeTask('x', { command: [NODE] }, { taskId: '../escape' })));
  t.true(isGoatError(err, 'GOAT_ERR_INVALID_SPEC'));
  t.deepEqual(await runtime.list(), []);
});
