// A worker process dies and a new one starts on the same data dir: the new
// runtime must find the tasks the old one started (they are not its children),
// adopt them without starting them twice, stop them, and notice when they end.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ProcessRuntime, type RunningTask, type RuntimeTask } from '../../lib/runtime/index.js';
import { freePort, post } from './helpers/net.js';
import { ECHO_SERVER, FAULTY_SERVER, RUNTIME_MODULE } from './helpers/repo.js';
import { TEST_CLUSTER, makeTask, removeTempDataDirs, tempDataDir } from './helpers/tasks.js';
import { pidGone } from './helpers/wait.js';

const run = promisify(execFile);
const NODE = process.execPath;

/** Starts `tasks` from a separate, short-lived worker process (which then exits) and returns their handles. */
async function startFromAnotherWorker(dataDir: string, tasks: RuntimeTask[]): Promise<RunningTask[]> {
  const script = `
    const { ProcessRuntime } = await import(${JSON.stringify(RUNTIME_MODULE)});
    const runtime = new ProcessRuntime({ dataDir: ${JSON.stringify(dataDir)} });
    const handles = [];
    for (const task of ${JSON.stringify(tasks)}) handles.push(await runtime.start(task));
    console.log(JSON.stringify(handles));
  `;
  const { stdout } = await run(NODE, ['--input-type=module', '-e', script], { timeout: 20_000 });
  return JSON.parse(stdout) as RunningTask[];
}

const cleanup: Array<() => Promise<unknown>> = [];
test.after.always(async () => {
  for (const step of cleanup) await step().catch(() => undefined);
  await removeTempDataDirs();
});

test('a restarted worker adopts the running tasks of the previous worker process', async (t) => {
  const dataDir = await tempDataDir();
  const port = await freePort();
  const echo = makeTask('echo', { command: [NODE, ECHO_SERVER], ports: [{ host: port, container: 7777 }] });
  // PORT=0: the faulty server listens until it exits, on a port the OS picks (its default, 7777, may be taken).
  const ending = makeTask('faulty', { command: [NODE, FAULTY_SERVER, '--exit-after', '1', '--exit-code', '5'], env: { PORT: '0' } });
  const [echoHandle, endingHandle] = await startFromAnotherWorker(dataDir, [echo, ending]);
  const runtime = new ProcessRuntime({ dataDir, cluster: TEST_CLUSTER, pollMs: 50 });
  cleanup.push(() => runtime.remove(echo.taskId, 1), () => runtime.remove(ending.taskId, 1), () => runtime.close());

  const listed = await runtime.list();
  t.deepEqual(listed.map((s) => [s.taskId, s.running, s.runtimeId]).sort(), [
    [echo.taskId, true, echoHandle?.runtimeId],
    [ending.taskId, true, endingHandle?.runtimeId],
  ].sort());

  const adopted = await runtime.start(echo);
  t.like(adopted, { adopted: true, runtimeId: echoHandle?.runtimeId });
  t.is((await post(port, 'after the restart')).text, 'after the restart');

  // Not our child: the exit is noticed by polling, and its code went to the old parent.
  const exit = await runtime.wait(ending.taskId, 1);
  t.like(exit, { reason: 'unknown', code: null });
  t.true(exit.logTail.includes('faulty: exiting with code 5 after 1 s'));

  const stopped = await runtime.stop(echo.taskId, 1, 3000);
  t.like(stopped, { reason: 'stopped' });
  // It was not our child: its zombie lingers until init reaps it.
  t.true(await pidGone(Number(echoHandle?.runtimeId)));
});
