/**
 * A missing image with the real Docker engine (issue 10): refused with
 * GOAT_ERR_RESOURCE, the task says why, the slot is re-placed after a backoff
 * (no hot loop). Skipped without an engine on a dev machine; in CI (CI=true)
 * it fails instead.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster } from '../../actors/worker/index.js';
import { docker, removeClusterContainers, requireEngine, runDockerTests } from '../runtime/helpers/docker.js';
import { eventually } from '../runtime/helpers/wait.js';

const CLUSTER = `goat-slots-docker-${process.pid}`;
const TOKEN = 'slots-docker-token-1';
const quiet = { info: () => undefined, warn: () => undefined };
const serial = runDockerTests ? test.serial : test.serial.skip;

if (runDockerTests) test.after.always(async () => void (await removeClusterContainers(CLUSTER)));

serial('run --image no/such-image: GOAT_ERR_RESOURCE, the task says why, re-placed after a backoff, no hot loop', async (t) => {
  requireEngine();
  const dir = await mkdtemp(join(tmpdir(), 'goat-slots-docker-'));
  const manager = await Manager.start({ dataDir: join(dir, 'm'), listen: '127.0.0.1:0', token: TOKEN, logger: quiet });
  const w = await joinCluster({ join: manager.url, token: TOKEN, dataDir: join(dir, 'w'), runtime: 'docker', logger: quiet, cluster: CLUSTER });
  t.teardown(async () => {
    await w.stop();
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await eventually('linked', () => manager.listNodes().length === 1, 20_000);
  await manager.putService({ name: 'nope', task: { image: 'goat/no-such-image-slots10' } });
  const started = Date.now();
  const failed = await eventually('a failed task', () => manager.listTasks({ service: 'nope', state: 'failed' })[0], 20_000);
  t.is(failed.failure?.kind, 'resource');
  t.is(failed.failure?.code, 'GOAT_ERR_RESOURCE');
  t.regex(failed.error?.message ?? '', /image .*not present on this node/);
  const next = await eventually('the next generation, waiting', () => manager.listTasks({ service: 'nope', state: 'pending' })[0], 10_000);
  t.truthy(next.notBefore && next.notBefore > next.createdAt, 'placed after a backoff');
  t.regex(next.error?.message ?? '', /re-placing in \d+ s after 1 failure \(last on .*image .*not present/);
  await new Promise((r) => setTimeout(r, Math.max(0, started + 5_000 - Date.now())));
  const generations = Math.max(...manager.listTasks({ service: 'nope' }).map((x) => x.generation));
  t.true(generations <= 4, `no hot loop: ${generations} generations in 5 s`);
  t.true(manager.eventsSince(0, 10_000).some((e) => e.type === 'slot.backoff' && e.subject === 'nope/0'));
});

serial('a rollout, a scale-down and a delete leave no exited containers behind: the containers are the live tasks', async (t) => {
  requireEngine();
  const dir = await mkdtemp(join(tmpdir(), 'goat-slots-docker-'));
  const cluster = `${CLUSTER}-clean`;
  const manager = await Manager.start({ dataDir: join(dir, 'm'), listen: '127.0.0.1:0', token: TOKEN, logger: quiet });
  const w = await joinCluster({ join: manager.url, token: TOKEN, dataDir: join(dir, 'w'), runtime: 'docker', logger: quiet, cluster });
  t.teardown(async () => {
    await w.stop();
    await manager.stop();
    await removeClusterContainers(cluster);
    await rm(dir, { recursive: true, force: true });
  });
  await eventually('linked', () => manager.listNodes().length === 1, 20_000);
  const containers = async (): Promise<string[]> => (await docker.listContainers({ all: true, filters: { label: [`goat.cluster=${cluster}`] } })).map((c) => `${c.Names[0] ?? c.Id}:${c.State}`);
  const running = (): number => manager.listTasks({ service: 'clean', state: 'running' }).filter((x) => x.desired === 'running').length;
  const settled = async (what: string, live: number): Promise<void> => {
    await eventually(what, async () => running() === live && (await containers()).length === live, 60_000, 200)
      .catch(async (err: Error) => t.fail(`${err.message}: ${live} live tasks, containers ${(await containers()).join(' ')}`));
  };
  const task = { image: 'goat/echo', env: { V: '1' }, resources: { cpu: 0.01, memoryMb: 32 } };
  await manager.putService({ name: 'clean', replicas: 2, task, update: { monitorMs: 0 } });
  await settled('2 running', 2);
  await manager.putService({ name: 'clean', replicas: 2, task: { ...task, env: { V: '2' } }, update: { monitorMs: 0 } });
  await eventually('the rollout completed', () => manager.getService('clean')?.update?.state === 'completed', 60_000, 200);
  await settled('after the rollout: only the 2 new containers', 2);
  t.true(manager.listTasks({ service: 'clean', state: 'running' }).every((x) => x.spec.env['V'] === '2'));
  await manager.putService({ name: 'clean', replicas: 1, task: { ...task, env: { V: '2' } }, update: { monitorMs: 0 } });
  await settled('after the scale-down: 1 container', 1);
  await manager.deleteService('clean');
  await settled('after the delete: no container', 0);
  t.pass();
});
