/** The worker with real processes (process runtime): tasks start, crash, restart, complete, fail, and are adopted after a worker restart. */
import test from 'ava';
import { restartDelays, startTestWorker } from '../helpers/worker.js';
import { freePort, post } from '../runtime/helpers/net.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually, pidExists } from '../runtime/helpers/wait.js';

const FAST = { initialMs: 100, factor: 2, maxMs: 2000, jitter: 0, resetAfterMs: 60_000 };

const CLUSTER = `goat-test-${process.pid}`;
const worker = (t: Parameters<typeof startTestWorker>[0], dataDir?: string) =>
  startTestWorker(t, { runtime: 'process', cluster: CLUSTER, ...(dataDir ? { dataDir } : {}) });

test('an echo task runs and answers with the same body', async (t) => {
  const { w } = await worker(t);
  t.is(w.runtimeChoice.kind, 'process');
  const port = await freePort();
  t.deepEqual(await w.assign({ taskId: 'echo.0.a1', service: 'echo', slot: 0, generation: 1, spec: { command: ['node', ECHO_SERVER], ports: [{ host: port, container: 7777 }] } }), { applied: true });
  await eventually('running', () => w.task('echo.0.a1')?.state === 'running');
  const body = '{"Msg":"Hello, world!"}';
  const answer = await eventually('echo answers', () => post(port, body).catch(() => undefined));
  t.is(answer.text, body);
  t.is(w.status, 'ready');
  t.is(w.tree().children?.[1]?.children?.[0]?.path, '/cluster/worker/tasks/echo.0.a1');
  const capacity = await w.capacity();
  t.true(capacity.cpus >= 1 && capacity.memoryMb > 0);
  t.true((capacity.diskFreeMb ?? 0) > 0);
  const usage = await w.usage();
  t.is(usage.tasks, 1);
  t.true(usage.memoryMb > 5, `a node process uses some memory: ${usage.memoryMb} MiB`);
});

test('a retried assignment is applied once', async (t) => {
  const { w } = await worker(t);
  const port = await freePort();
  const cmd = { cmdId: 'c-1', taskId: 'echo.0.b1', service: 'echo', slot: 0, generation: 1, spec: { command: ['node', ECHO_SERVER], ports: [{ host: port, container: 7777 }] } };
  t.true((await w.assign(cmd)).applied);
  t.false((await w.assign(cmd)).applied);
  t.false((await w.assign({ ...cmd, cmdId: 'c-2' })).applied, 'same task and generation, another command id');
  await eventually('running', () => w.task('echo.0.b1')?.state === 'running');
  t.is(w.tasks().length, 1);
});

test('a killed task is restarted with growing delays', async (t) => {
  const { w, events } = await worker(t);
  const port = await freePort();
  await w.assign({ taskId: 'echo.0.k1', service: 'echo', slot: 0, generation: 1, spec: { command: ['node', ECHO_SERVER], ports: [{ host: port, container: 7777 }], restart: { policy: 'always', backoff: FAST } } });
  for (let i = 1; i <= 2; i++) {
    await eventually('running', () => w.task('echo.0.k1')?.state === 'running');
    const pid = await eventually('pid', async () => {
      const s = await w.runtime.inspect('echo.0.k1', 1);
      return s?.running ? Number(s.runtimeId) : undefined;
    });
    process.kill(pid, 'SIGKILL');
    await eventually(`restart ${i}`, () => w.task('echo.0.k1')?.restarts === i);
  }
  await eventually('running again', () => w.task('echo.0.k1')?.state === 'running');
  t.deepEqual(restartDelays(events, 'echo.0.k1'), [100, 200]);
  t.is(w.task('echo.0.k1')?.lastExit?.signal, 'SIGKILL');
});

test('exit 0 under on-failure completes without a restart', async (t) => {
  const { w, events } = await worker(t);
  await w.assign({ taskId: 'job.0.c1', service: 'job', slot: 0, generation: 1, spec: { command: ['node', '-e', 'setTimeout(() => process.exit(0), 100)'], restart: { policy: 'on-failure', backoff: FAST } } });
  await eventually('completed', () => w.task('job.0.c1')?.state === 'completed');
  t.is(w.task('job.0.c1')?.restarts, 0);
  t.is(w.task('job.0.c1')?.lastExit?.code, 0);
  t.is(w.task('job.0.c1')?.failure, null);
  t.deepEqual(restartDelays(events, 'job.0.c1'), []);
});

test('a task that crashes at start spends its budget and is failed and reported', async (t) => {
  const { w, events } = await worker(t);
  await w.assign({ taskId: 'bad.0.f1', service: 'bad', slot: 0, generation: 1, spec: { command: ['node', '-e', 'process.exit(3)'], restart: { policy: 'always', maxRestarts: 2, windowMs: 60_000, backoff: FAST } } });
  await eventually('failed', () => w.task('bad.0.f1')?.state === 'failed');
  const task = w.task('bad.0.f1');
  t.is(task?.restarts, 2);
  t.is(task?.lastExit?.code, 3);
  t.is(task?.error?.code, 'GOAT_ERR_BUDGET_EXCEEDED');
  t.is(task?.failure?.kind, 'app');
  t.deepEqual(restartDelays(events, 'bad.0.f1'), [100, 200]);
  t.true(events.some((e) => e.type === 'task' && e.task.id === 'bad.0.f1' && e.task.state === 'failed'));
});

test('a task asking for more memory than the node has is refused with a resource error, not retried', async (t) => {
  const { w, events } = await worker(t);
  await w.assign({ taskId: 'big.0.r1', service: 'big', slot: 0, generation: 1, spec: { command: ['node', ECHO_SERVER], resources: { memoryMb: 10_000_000 } } });
  await eventually('failed', () => w.task('big.0.r1')?.state === 'failed');
  t.is(w.task('big.0.r1')?.error?.code, 'GOAT_ERR_RESOURCE');
  t.is(w.task('big.0.r1')?.failure?.kind, 'resource');
  t.deepEqual(restartDelays(events, 'big.0.r1'), []);
});

test('a failing health check restarts the task', async (t) => {
  const { w } = await worker(t);
  const port = await freePort();
  await w.assign({ taskId: 'sick.0.h1', service: 'sick', slot: 0, generation: 1, spec: {
    command: ['node', ECHO_SERVER.replace('echo', 'faulty'), '--unhealthy-after', '0.2'],
    ports: [{ host: port, container: 7777 }],
    restart: { policy: 'always', backoff: FAST },
    health: { http: { path: '/health', port: 7777 }, intervalMs: 100, timeoutMs: 500, retries: 2 },
  } });
  await eventually('restarted after failing its health check', () => (w.task('sick.0.h1')?.restarts ?? 0) >= 1, 15_000);
  t.is(w.task('sick.0.h1')?.failure?.code, 'GOAT_ERR_TASK_UNHEALTHY');
  t.is(w.task('sick.0.h1')?.failure?.kind, 'health');
});

test('a task with a health check runs unhealthy until its first probe passes, then is reported healthy; one without is healthy as it runs (issue 10)', async (t) => {
  const { w } = await worker(t);
  const port = await freePort();
  const seen: string[] = [];
  w.subscribe((e) => void (e.type === 'task' && seen.push(`${e.task.id} ${e.task.state} ${String(e.task.healthy)}`)));
  await w.assign({ taskId: 'hc.0.h1', service: 'hc', slot: 0, generation: 1, spec: {
    command: ['node', ECHO_SERVER], ports: [{ host: port, container: 7777 }],
    health: { tcp: { port: 7777 }, intervalMs: 100, timeoutMs: 500, retries: 1_000, startPeriodMs: 300 },
  } });
  await w.assign({ taskId: 'plain.0.p1', service: 'plain', slot: 0, generation: 1, spec: { command: ['node', ECHO_SERVER], env: { PORT: '0' } } });
  await eventually('hc healthy', () => w.task('hc.0.h1')?.healthy === true, 15_000);
  await eventually('plain running', () => w.task('plain.0.p1')?.state === 'running', 15_000);
  t.true(seen.includes('hc.0.h1 running false'), `running before healthy: ${seen.join(', ')}`);
  t.true(seen.indexOf('hc.0.h1 running false') < seen.indexOf('hc.0.h1 running true'));
  t.is(seen.find((x) => x.startsWith('plain.0.p1 running')), 'plain.0.p1 running true');
});

test('a restarted worker re-adopts its running task: same process, zero restarts, no duplicate', async (t) => {
  const first = await worker(t);
  const port = await freePort();
  await first.w.assign({ taskId: 'echo.0.d1', service: 'echo', slot: 0, generation: 1, spec: { command: ['node', ECHO_SERVER], ports: [{ host: port, container: 7777 }] } });
  await eventually('running', () => first.w.task('echo.0.d1')?.state === 'running');
  const pid = Number((await first.w.runtime.inspect('echo.0.d1', 1))?.runtimeId);
  await first.shutdown(); // the worker goes; its task stays
  t.true(pidExists(pid));
  const second = await worker(t, first.dir);
  t.is(second.w.nodeId, first.w.nodeId, 'the node id is stable');
  await eventually('adopted', () => second.w.task('echo.0.d1')?.state === 'running');
  const task = second.w.task('echo.0.d1');
  t.true(task?.adopted);
  t.is(task?.restarts, 0);
  t.is(Number((await second.w.runtime.inspect('echo.0.d1', 1))?.runtimeId), pid);
  t.is((await second.w.runtime.list()).filter((s) => s.running).length, 1);
  t.is((await post(port, 'same')).text, 'same');
});

test('assignments arriving together are all applied and durable (no lost write)', async (t) => {
  const { w, dir } = await worker(t);
  const ids = ['c.0.x1', 'c.1.x2', 'c.2.x3'];
  const results = await Promise.all(ids.map((taskId, slot) => w.assign({ taskId, service: 'c', slot, generation: 1, spec: { command: ['node', ECHO_SERVER], env: { PORT: '0' } } })));
  t.deepEqual(results.map((r) => r.applied), [true, true, true]);
  await eventually('all running', () => ids.every((id) => w.task(id)?.state === 'running'));
  const saved = JSON.parse(await (await import('node:fs/promises')).readFile(`${dir}/worker.json`, 'utf8')) as { assignments: { taskId: string }[] };
  t.deepEqual(saved.assignments.map((a) => a.taskId).sort(), ids);
});
