/**
 * The leftover check of `npm test` (spec/suite.ts, spec/helpers/leaks.ts)
 * finds what a test run started and nothing else: a process task and a
 * container started under a run id are found (and removed); a process of
 * another run, or of none, is not.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { containerOptions, testRunLabels } from '../../lib/runtime/docker-spec.js';
import { DockerRuntime, ProcessRuntime } from '../../lib/runtime/index.js';
import { clean, describe, leftovers, reap, runProcesses } from '../helpers/leaks.js';
import { docker, dockerTest, imageBuilder, removeClusterContainers, requireEngine, runDockerTests } from '../runtime/helpers/docker.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { TEST_CLUSTER, makeTask, removeTempDataDirs, tempDataDir } from '../runtime/helpers/tasks.js';
import { eventually, pidGone } from '../runtime/helpers/wait.js';

const runId = (): string => `leak-${nanoid(8).replace(/[^A-Za-z0-9]/g, 'x')}`;

test.after.always(removeTempDataDirs);

test('containers of a test run carry its label; without GOAT_TEST_RUN they carry none', (t) => {
  const task = makeTask('echo', { image: 'goat/echo:latest' });
  t.is(containerOptions(task, testRunLabels({ GOAT_TEST_RUN: 'r1' })).Labels?.['goat.test-run'], 'r1');
  t.false('goat.test-run' in (containerOptions(task, testRunLabels({})).Labels ?? {}));
});

test('a task process of the run is found by its environment and removed; processes of another run or of none are not found', async (t) => {
  const [id, other] = [runId(), runId()];
  const dataDir = await tempDataDir();
  const runtime = new ProcessRuntime({ dataDir, cluster: TEST_CLUSTER, env: { ...process.env, GOAT_TEST_RUN: id } });
  const task = await runtime.start(makeTask('echo', { command: [process.execPath, ECHO_SERVER], env: { PORT: '0' } }));
  const stranger = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { env: { ...process.env, GOAT_TEST_RUN: other }, stdio: 'ignore' });
  const unmarked = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { env: { ...process.env, GOAT_TEST_RUN: '' }, stdio: 'ignore' });
  const temp = await mkdtemp(join(tmpdir(), 'goat-leak-tmp-'));
  await writeFile(join(temp, 'left.txt'), 'x');
  t.teardown(async () => {
    stranger.kill('SIGKILL');
    unmarked.kill('SIGKILL');
    await runtime.stop(task.taskId, task.generation, 0).catch(() => undefined);
    await rm(temp, { recursive: true, force: true });
  });
  const pid = Number(task.runtimeId);
  const found = await eventually('the task process found', async () => {
    const list = await runProcesses(id);
    return list.length > 0 ? list : undefined;
  });
  t.deepEqual(found.map((p) => p.pid), [pid]);
  t.regex(found[0]!.command, /images\/echo\/server\.js/);
  t.deepEqual((await runProcesses(other)).map((p) => p.pid), [stranger.pid]);
  const left = await leftovers(id, undefined, temp);
  t.false(clean(left));
  t.regex(describe(left, temp), new RegExp(`process ${pid}: .*server\\.js\\ntemp .*left\\.txt`));
  await reap(left, undefined, temp);
  t.true(await pidGone(pid, 5_000));
  t.true(clean(await leftovers(id, undefined, temp)));
});

if (runDockerTests) {
  test.before(async () => {
    requireEngine();
    await (await imageBuilder()).buildImages({ docker, apps: ['echo'] });
  });
  test.after.always(() => removeClusterContainers(TEST_CLUSTER));
}

dockerTest('a container started under a run id is found by its label and removed', async (t) => {
  const id = runId();
  const runtime = new DockerRuntime({ cluster: TEST_CLUSTER });
  t.teardown(() => runtime.close());
  const before = process.env['GOAT_TEST_RUN'];
  process.env['GOAT_TEST_RUN'] = id;
  const starting = runtime.start(makeTask('echo', { image: 'goat/echo:latest' }));
  // start() reads the variable before its first await; the rest of this process keeps the suite's run id.
  if (before === undefined) delete process.env['GOAT_TEST_RUN'];
  else process.env['GOAT_TEST_RUN'] = before;
  await starting;
  const left = await leftovers(id, docker, undefined);
  t.is(left.containers.length, 1);
  t.is(left.processes.length, 0);
  await reap(left, docker, undefined);
  t.true(clean(await leftovers(id, docker, undefined)));
});
