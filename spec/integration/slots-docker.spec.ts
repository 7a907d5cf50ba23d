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
import { removeClusterContainers, requireEngine, runDockerTests } from '../runtime/helpers/docker.js';
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
