/**
 * A closed process runtime lets its worker exit while its tasks run on, but
 * a `remove` called after `close` is someone waiting: it holds the event loop
 * until the task is gone. Alone in its file on purpose: with nothing else
 * keeping this process alive, a wait that held nothing would end the test
 * with "Promise returned by test never resolved" (as it once did for the
 * worker specs' teardown, run alone).
 */
import test from 'ava';
import { ProcessRuntime } from '../../lib/runtime/index.js';
import { makeTask, removeTempDataDirs, tempDataDir } from './helpers/tasks.js';
import { pidExists } from './helpers/wait.js';

test.after.always(removeTempDataDirs);

test('remove after close waits for the task to be gone, and resolves', async (t) => {
  const runtime = new ProcessRuntime({ dataDir: await tempDataDir(), pollMs: 50 });
  const task = makeTask('closing', { command: [process.execPath, '-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"] });
  const run = await runtime.start(task);
  const pid = Number(run.runtimeId);
  t.true(pidExists(pid));
  await runtime.close();
  await runtime.remove(task.taskId, task.generation);
  t.false(pidExists(pid), 'the task was killed and is gone');
});
