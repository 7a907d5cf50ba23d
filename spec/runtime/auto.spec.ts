// createRuntime: which runtime it picks, and why.
import test from 'ava';
import { createRuntime } from '../../lib/runtime/index.js';
import { dockerTest } from './helpers/docker.js';
import { FakeEngine } from './helpers/fake-engine.js';
import { removeTempDataDirs, tempDataDir } from './helpers/tasks.js';

test.after.always(() => removeTempDataDirs());

test('auto picks docker when the engine answers a ping', async (t) => {
  const dir = await tempDataDir();
  const engine = new FakeEngine(dir);
  await engine.start();
  try {
    const choice = await createRuntime({ runtime: 'auto', dataDir: dir, docker: { socketPath: engine.socketPath } });
    t.is(choice.kind, 'docker');
    t.is(choice.runtime.kind, 'docker');
    t.regex(choice.reason, /^auto: docker engine at .*docker\.sock answers$/);
    await choice.runtime.close();
  } finally {
    await engine.stop();
  }
});

test('auto falls back to processes when there is no engine only with allowProcess, and says why', async (t) => {
  const dir = await tempDataDir();
  const choice = await createRuntime({ dataDir: dir, docker: { socketPath: `${dir}/none.sock` }, allowProcess: true });
  t.is(choice.kind, 'process');
  t.regex(choice.reason, /does not answer: .*ENOENT.*; using local processes/);
  t.is(choice.refusesTasks, undefined);
  await choice.runtime.close();
});

test('auto never widens what a node allows: no engine and no allowProcess keeps docker and refuses tasks, saying why', async (t) => {
  const dir = await tempDataDir();
  const choice = await createRuntime({ dataDir: dir, docker: { socketPath: `${dir}/none.sock` } });
  t.is(choice.kind, 'docker');
  t.regex(choice.refusesTasks ?? '', /Docker does not answer .*ENOENT.*--allow-process/);
  t.regex(choice.reason, /takes no tasks until Docker answers/);
  await choice.runtime.close();
});

test('auto falls back to processes within the probe timeout when the engine hangs', async (t) => {
  const dir = await tempDataDir();
  const engine = new FakeEngine(dir, true);
  await engine.start();
  try {
    const before = Date.now();
    const choice = await createRuntime({ dataDir: dir, docker: { socketPath: engine.socketPath }, probeTimeoutMs: 300, allowProcess: true });
    t.is(choice.kind, 'process');
    t.regex(choice.reason, /no answer in time/);
    t.true(Date.now() - before < 2000);
    await choice.runtime.close();
  } finally {
    await engine.stop();
  }
});

test('an explicit runtime is honoured, docker even while its engine is down', async (t) => {
  const dir = await tempDataDir();
  const docker = await createRuntime({ runtime: 'docker', dataDir: dir, docker: { socketPath: `${dir}/none.sock` } });
  t.is(docker.kind, 'docker');
  t.regex(docker.reason, /^docker runtime requested; .*does not answer/);
  t.false((await docker.runtime.health()).ok);
  await docker.runtime.close();
  const processes = await createRuntime({ runtime: 'process', dataDir: dir });
  t.like(processes, { kind: 'process', reason: 'process runtime requested' });
  await processes.runtime.close();
});

dockerTest('auto picks the local Docker engine when it runs', async (t) => {
  const choice = await createRuntime({ dataDir: await tempDataDir() });
  t.is(choice.kind, 'docker');
  await choice.runtime.close();
});
