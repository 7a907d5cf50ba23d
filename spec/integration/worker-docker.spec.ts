/**
 * The worker with the Docker runtime against the local engine: an echo task
 * runs and answers, a killed container is restarted with growing delays, a new
 * worker on the same data dir adopts the running container, exit 0 under
 * on-failure completes, a crash at start spends the budget, http and exec
 * health checks, and the disk check. Skipped with a message when no engine
 * answers; in CI (CI=true) it fails instead.
 */
import test from 'ava';
import { restartDelays, startTestWorker } from '../helpers/worker.js';
import { docker, imageBuilder, removeClusterContainers, requireEngine, runDockerTests } from '../runtime/helpers/docker.js';
import { freePort, post } from '../runtime/helpers/net.js';
import { eventually } from '../runtime/helpers/wait.js';

const ECHO = 'goat/echo:latest';
const FAST = { initialMs: 100, factor: 2, maxMs: 2000, jitter: 0, resetAfterMs: 60_000 };
const CLUSTER = `goat-wd-${process.pid}-${Date.now().toString(36)}`;

/** `test.serial` when the docker tests run (see `dockerTest`), else skipped. */
const serial = runDockerTests ? test.serial : test.serial.skip;

if (runDockerTests) {
  test.before(async () => {
    requireEngine();
    const builder = await imageBuilder();
    await builder.buildImages({ docker });
  });
  test.after.always(async () => {
    await removeClusterContainers(CLUSTER);
  });
}

const worker = (t: Parameters<typeof startTestWorker>[0], dataDir?: string) =>
  startTestWorker(t, { runtime: 'docker', cluster: CLUSTER, ...(dataDir ? { dataDir } : {}) });

const containersOf = (taskId: string) =>
  docker.listContainers({ all: true, filters: { label: [`goat.task=${taskId}`, `goat.cluster=${CLUSTER}`] } });

serial('an echo task in a container runs and answers with the same body', async (t) => {
  const { w } = await worker(t);
  t.is(w.runtimeChoice.kind, 'docker');
  const port = await freePort();
  t.deepEqual(await w.assign({ taskId: 'echo.0.a1', service: 'echo', slot: 0, generation: 1, spec: { image: ECHO, ports: [{ host: port, container: 7777 }] } }), { applied: true });
  await eventually('running', () => w.task('echo.0.a1')?.state === 'running', 30_000);
  const body = '{"Msg":"Hello, world!"}';
  const answer = await post(port, body);
  t.deepEqual(answer, { status: 200, text: body });
  t.is(w.status, 'ready');
  t.is((await containersOf('echo.0.a1')).length, 1);
});

serial('a killed container is restarted with growing delays, in one container', async (t) => {
  const { w, events } = await worker(t);
  const port = await freePort();
  const id = 'echo.0.k1';
  await w.assign({ taskId: id, service: 'echo', slot: 0, generation: 1, spec: { image: ECHO, ports: [{ host: port, container: 7777 }], restart: { policy: 'always', backoff: FAST } } });
  for (let i = 1; i <= 2; i++) {
    await eventually('running', () => w.task(id)?.state === 'running', 30_000);
    await eventually('container running', async () => (await docker.getContainer(`goat-${id}-g1`).inspect()).State.Running);
    await docker.getContainer(`goat-${id}-g1`).kill();
    await eventually(`restart ${i}`, () => w.task(id)?.restarts === i, 15_000);
  }
  await eventually('running again', () => w.task(id)?.state === 'running', 15_000);
  t.deepEqual(restartDelays(events, id), [100, 200]);
  t.is((await post(port, 'again')).text, 'again');
  const containers = await containersOf(id);
  t.is(containers.length, 1, JSON.stringify(containers.map((c) => c.Names)));
  t.is(containers[0]?.State, 'running');
});

serial('a restarted worker re-adopts its running container: same container, zero restarts, no duplicate', async (t) => {
  const first = await worker(t);
  const port = await freePort();
  const id = 'echo.0.d1';
  await first.w.assign({ taskId: id, service: 'echo', slot: 0, generation: 1, spec: { image: ECHO, ports: [{ host: port, container: 7777 }] } });
  await eventually('running', () => first.w.task(id)?.state === 'running', 30_000);
  const before = (await first.w.runtime.inspect(id, 1))?.runtimeId;
  t.truthy(before);
  await first.shutdown(); // the worker goes; its container stays
  t.true((await docker.getContainer(`goat-${id}-g1`).inspect()).State.Running);
  const second = await worker(t, first.dir);
  t.is(second.w.nodeId, first.w.nodeId, 'the node id is stable');
  await eventually('adopted', () => second.w.task(id)?.state === 'running', 30_000);
  const task = second.w.task(id);
  t.true(task?.adopted);
  t.is(task?.restarts, 0);
  t.is((await second.w.runtime.inspect(id, 1))?.runtimeId, before);
  const containers = await containersOf(id);
  t.is(containers.length, 1);
  t.is(containers[0]?.Id, before);
  t.is((await post(port, 'same')).text, 'same');
});

const FAULTY = 'goat/faulty:latest';

serial('a container that exits 0 under on-failure completes, not restarted', async (t) => {
  const { w, events } = await worker(t);
  const id = 'job.0.c1';
  await w.assign({ taskId: id, service: 'job', slot: 0, generation: 1, spec: { image: FAULTY, command: ['--exit-after', '0.3', '--exit-code', '0'], restart: { policy: 'on-failure', backoff: FAST } } });
  await eventually('completed', () => w.task(id)?.state === 'completed', 30_000);
  t.is(w.task(id)?.lastExit?.code, 0);
  t.is(w.task(id)?.restarts, 0);
  t.deepEqual(restartDelays(events, id), []);
});

serial('a container that crashes at start spends its budget and is failed and reported', async (t) => {
  const { w, events } = await worker(t);
  const id = 'bad.0.f1';
  await w.assign({ taskId: id, service: 'bad', slot: 0, generation: 1, spec: { image: FAULTY, command: ['--exit-at-start', '3'], restart: { policy: 'always', maxRestarts: 2, windowMs: 60_000, backoff: FAST } } });
  await eventually('failed', () => w.task(id)?.state === 'failed', 30_000);
  t.is(w.task(id)?.lastExit?.code, 3);
  t.is(w.task(id)?.error?.code, 'GOAT_ERR_BUDGET_EXCEEDED');
  t.deepEqual(restartDelays(events, id), [100, 200]);
  t.is((await containersOf(id)).length, 1, 'restarts reuse the one container of the generation');
});

serial('a container failing its http health check is restarted', async (t) => {
  const { w } = await worker(t);
  const port = await freePort();
  const id = 'sick.0.h1';
  await w.assign({ taskId: id, service: 'sick', slot: 0, generation: 1, spec: {
    image: FAULTY, command: ['--unhealthy-after', '0.3'], ports: [{ host: port, container: 7777 }],
    restart: { policy: 'always', backoff: FAST },
    health: { http: { path: '/health', port: 7777 }, intervalMs: 200, timeoutMs: 1000, retries: 2 },
  } });
  await eventually('restarted', () => (w.task(id)?.restarts ?? 0) >= 1, 30_000);
  t.is(w.task(id)?.failure?.code, 'GOAT_ERR_TASK_UNHEALTHY');
  await eventually('running again', () => w.task(id)?.state === 'running', 30_000);
});

serial('an exec health check runs inside the container', async (t) => {
  const { w } = await worker(t);
  const id = 'exec.0.e1';
  const [node] = (await docker.getImage(ECHO).inspect()).Config.Entrypoint as string[];
  // Healthy only if the file exists inside the container: the check must run there, not on the node.
  await w.assign({ taskId: id, service: 'exec', slot: 0, generation: 1, spec: {
    image: ECHO, restart: { policy: 'always', backoff: FAST },
    health: { exec: [node!, '-e', 'process.exit(require("fs").existsSync("/app/server.js") ? 0 : 1)'], intervalMs: 200, timeoutMs: 2000, retries: 2 },
  } });
  await eventually('running', () => w.task(id)?.state === 'running', 30_000);
  // Its twin fails the same check on a file that does not exist: proof the probe runs and counts.
  await w.assign({ taskId: 'exec.0.e2', service: 'exec', slot: 1, generation: 1, spec: {
    image: ECHO, restart: { policy: 'always', backoff: FAST },
    health: { exec: [node!, '-e', 'process.exit(require("fs").existsSync("/app/missing.js") ? 0 : 1)'], intervalMs: 200, timeoutMs: 2000, retries: 2 },
  } });
  await eventually('the twin is restarted', () => (w.task('exec.0.e2')?.restarts ?? 0) >= 1, 30_000);
  t.regex(w.task('exec.0.e2')?.failure?.message ?? '', /exited 1/);
  t.is(w.task(id)?.restarts, 0, 'healthy inside the container');
  t.is(w.task(id)?.state, 'running');
});

serial('a task whose image and disk cannot fit the node is refused with a resource error', async (t) => {
  const { w, events } = await worker(t);
  const id = 'huge.0.r1';
  await w.assign({ taskId: id, service: 'huge', slot: 0, generation: 1, spec: { image: ECHO, resources: { diskMb: 1e12 } } });
  await eventually('failed', () => w.task(id)?.state === 'failed', 30_000);
  t.is(w.task(id)?.error?.code, 'GOAT_ERR_RESOURCE');
  t.regex(w.task(id)?.error?.message ?? '', /disk/);
  t.deepEqual(restartDelays(events, id), [], 'not retried locally');
  t.is((await containersOf(id)).length, 0, 'nothing was created');
});
