// Health of the Docker runtime against a fake engine on a unix socket, so the
// engine can go away and come back without touching the real daemon.
import test from 'ava';
import { DockerRuntime, type RuntimeHealth } from '../../lib/runtime/index.js';
import { FakeEngine } from './helpers/fake-engine.js';
import { removeTempDataDirs, tempDataDir } from './helpers/tasks.js';
import { eventually } from './helpers/wait.js';

test.after.always(() => removeTempDataDirs());

test('onHealth hears the engine go away at once (event stream) and come back (ping)', async (t) => {
  const engine = new FakeEngine(await tempDataDir());
  await engine.start();
  const runtime = new DockerRuntime({ dockerOptions: { socketPath: engine.socketPath }, healthIntervalMs: 2500, pingTimeoutMs: 500 });
  const heard: RuntimeHealth[] = [];
  const off = runtime.onHealth((health) => heard.push(health));
  try {
    await eventually('the first observation', () => heard.length === 1);
    t.true(heard[0]?.ok);
    await eventually('the event stream to open', () => engine.openStreams === 1);

    const goneAt = Date.now();
    await engine.stop();
    await eventually('the engine to be noticed gone', () => heard.length === 2);
    t.false(heard[1]?.ok);
    t.true(Date.now() - goneAt < 1000, `noticed after ${Date.now() - goneAt} ms, well before the next ping`);
    t.regex(heard[1]?.detail ?? '', /does not answer/);

    await engine.start();
    await eventually('the engine to be noticed back', () => heard.length === 3, 6000);
    t.deepEqual(heard.map((h) => h.ok), [true, false, true]);
    await eventually('the event stream to reopen', () => engine.openStreams === 1);
  } finally {
    off();
    await runtime.close();
    await engine.stop();
  }
});

test('health reports an engine that does not answer in time', async (t) => {
  const engine = new FakeEngine(await tempDataDir(), true);
  await engine.start();
  const runtime = new DockerRuntime({ dockerOptions: { socketPath: engine.socketPath }, pingTimeoutMs: 300 });
  try {
    const before = Date.now();
    const health = await runtime.health();
    t.false(health.ok);
    t.regex(health.detail, /no answer in time/);
    t.true(Date.now() - before < 2000);
  } finally {
    await runtime.close();
    await engine.stop();
  }
});

test('calls to an absent engine fail as GOAT_ERR_RUNTIME_UNAVAILABLE (temporary)', async (t) => {
  const runtime = new DockerRuntime({ dockerOptions: { socketPath: `${await tempDataDir()}/none.sock` } });
  const err = await t.throwsAsync(runtime.list());
  t.like(err, { code: 'GOAT_ERR_RUNTIME_UNAVAILABLE', temporary: true });
  await runtime.close();
});
