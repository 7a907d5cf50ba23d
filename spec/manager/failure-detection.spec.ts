/**
 * Failure detection with default timings (1 s heartbeats, suspect after 2 s,
 * down after 4 s): a cut-off worker's replicas run elsewhere, its stale copy
 * is stopped when it comes back, and a manager whose event loop is blocked
 * declares no healthy node down. Real WebSockets and real processes.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster, type JoinedWorker } from '../../actors/worker/index.js';
import type { ClusterEvent } from '../../lib/model/index.js';
import { ECHO_SERVER, ROOT } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';
import { AdminClient } from '../../lib/repl/index.js';

const TOKEN = 'test-token-fd-123456';

/**
 * Asks `$state` of each actor in turn (the REPL's `state(path)`): each is
 * answered in mailbox order, so every actor has handled what was sent to it
 * before — the node's verdict, the controller's reconcile, the placement
 * round it asked for. "Nothing happened" is then read, not waited for.
 */
async function handled(manager: Manager, ...paths: string[]): Promise<unknown[]> {
  const admin = new AdminClient(manager.url, TOKEN);
  try {
    await admin.opened;
    const states: unknown[] = [];
    for (const path of paths) states.push(await admin.request('ask', { path, message: { type: '$state' } }));
    return states;
  } finally {
    admin.close();
  }
}
const quiet = { info: () => undefined, warn: () => undefined };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
type Teardown = { teardown(f: () => Promise<void> | void): void };

/** A manager with default timings (no recovery grace, so that detection can be measured from the first second). */
async function startManager(t: Teardown) {
  const dir = await mkdtemp(join(tmpdir(), 'goat-fd-'));
  const manager = await Manager.start({ dataDir: join(dir, 'manager'), listen: '127.0.0.1:0', token: TOKEN, logger: quiet, recoveryGraceMs: 0 });
  const events: ClusterEvent[] = [];
  manager.subscribeEvents((e) => events.push(e));
  t.teardown(async () => {
    await manager.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, manager, events };
}

/** In-process workers (process runtime); their tasks are removed at teardown. */
async function inProcessWorkers(t: Teardown, manager: Manager, dir: string, n: number): Promise<JoinedWorker[]> {
  const joined: JoinedWorker[] = [];
  for (let i = 0; i < n; i++) {
    joined.push(await joinCluster({ join: manager.url, token: TOKEN, dataDir: join(dir, `w${i}`), name: `w${i}`, runtime: 'process', cluster: `goat-fd-${process.pid}`, logger: quiet, backoff: { initialMs: 50, maxMs: 500 } }));
  }
  t.teardown(async () => {
    for (const w of joined) {
      for (const task of w.worker.tasks()) await w.worker.runtime.remove(task.id, task.generation).catch(() => undefined);
      await w.stop().catch(() => undefined);
    }
  });
  await eventually('workers linked', () => manager.listNodes().filter((x) => x.status === 'ready').length === n);
  return joined;
}

/** `goat-cluster worker` processes: they keep sending heartbeats while this process (the manager's) is blocked. */
async function workerProcesses(t: Teardown, manager: Manager, dir: string, n: number): Promise<ChildProcess[]> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const argv = [join(ROOT, 'dist', 'lib', 'cli', 'main.js'), 'worker', '--join', manager.url, '--token', TOKEN, '--name', `p${i}`, '--runtime', 'process', '--data-dir', join(dir, `p${i}`)];
    children.push(spawn(process.execPath, argv, { stdio: 'ignore' }));
  }
  t.teardown(async () => {
    for (const c of children) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    }
  });
  await eventually('worker processes linked', () => manager.listNodes().filter((x) => x.status === 'ready').length === n, 20_000);
  return children;
}

const running = (m: Manager, service: string) => m.listTasks({ service }).filter((x) => x.state === 'running' && x.desired === 'running');
const statuses = (events: ClusterEvent[], node: string) => events.filter((e) => e.type === 'node.status' && e.subject === node).map((e) => e.data.status);

/** Blocks this process's event loop for `ms`, from inside a timer (timers run before pending I/O is read: the worst case). */
async function blockEventLoop(ms: number): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(() => {
    const end = Date.now() + ms;
    while (Date.now() < end) { /* busy */ }
    resolve();
  }, 0));
}

test.serial('a cut-off worker: suspect at once, down ~4 s after its last heartbeat, its replica re-placed; on return its stale copy is stopped', async (t) => {
  const { dir, manager, events } = await startManager(t);
  const workers = await inProcessWorkers(t, manager, dir, 3);
  await fetch(`${manager.url}/v1/services/cut`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ replicas: 2, task: { command: ['node', ECHO_SERVER], env: { PORT: '0' } } }) });
  await eventually('2 running', () => running(manager, 'cut').length === 2, 20_000);
  const victim = running(manager, 'cut')[0]!;
  const cut = workers.find((w) => w.worker.nodeId === victim.node)!;

  const cutAt = Date.now();
  await cut.link.stop(); // the link is gone; the worker and its task carry on (a partition)
  await eventually('suspect', () => manager.listNodes().find((x) => x.id === victim.node)?.status === 'suspect', 2_000);
  const suspectMs = Date.now() - cutAt;
  await eventually('down', () => manager.listNodes().find((x) => x.id === victim.node)?.status === 'down', 10_000, 10);
  const downMs = Date.now() - cutAt;
  await eventually('re-placed and running', () => running(manager, 'cut').some((x) => x.slot === victim.slot && x.generation === victim.generation + 1 && x.node !== victim.node), 20_000, 10);
  const replacedMs = Date.now() - cutAt;
  t.log(`cut → suspect ${suspectMs} ms, → down ${downMs} ms, → replica running elsewhere ${replacedMs} ms (target ≤ 5000 ms)`);
  t.is(manager.getTask(victim.id)?.state, 'lost');
  t.deepEqual(statuses(events, victim.node!), ['ready', 'suspect', 'down']);
  t.is(cut.worker.task(victim.id)?.state, 'running', 'not fenced: the cut-off copy still runs');

  cut.link.start(); // the partition heals
  await eventually('stale copy stopped', () => cut.worker.task(victim.id)?.state === 'stopped', 20_000);
  await eventually('node ready again', () => manager.listNodes().find((x) => x.id === victim.node)?.status === 'ready', 10_000);
  const live = workers.flatMap((w) => w.worker.tasks()).filter((x) => x.service === 'cut' && x.state === 'running');
  t.deepEqual(live.map((x) => x.slot).sort(), [0, 1], 'exactly one running copy per slot');
  t.is(running(manager, 'cut').length, 2);
});

test.serial('a blocked manager event loop (2 s, then 4.5 s) declares no healthy node down', async (t) => {
  const { dir, manager, events } = await startManager(t);
  await workerProcesses(t, manager, dir, 2);
  const ids = manager.listNodes().map((x) => x.id);
  await sleep(1_500);
  for (const ms of [2_000, 4_500]) {
    const started = Date.now();
    const before = events.length;
    await blockEventLoop(ms);
    const blocked = Date.now() - started;
    await sleep(5_000);
    const during = events.slice(before).filter((e) => e.type === 'node.status').map((e) => `${e.data.status}@+${e.at - started}ms`);
    t.log(`blocked ${blocked} ms; node.status events after it: ${during.join(', ') || 'none'}`);
  }
  const seen = ids.map((id) => statuses(events, id));
  t.log(`node.status events per node: ${JSON.stringify(seen)}`);
  t.false(seen.flat().includes('down'), 'no node declared down');
  t.true(manager.listNodes().every((x) => x.status === 'ready'));
});

test.serial('disconnect.lostAfterMs: a down node\'s task is unknown that long, then lost and re-placed', async (t) => {
  const { dir, manager, events } = await startManager(t);
  const workers = await inProcessWorkers(t, manager, dir, 2);
  await manager.putService({ name: 'patient', replicas: 1, task: { command: ['node', ECHO_SERVER], env: { PORT: '0' }, disconnect: { lostAfterMs: 2_000 } } });
  await eventually('running', () => running(manager, 'patient').length === 1, 20_000);
  const victim = running(manager, 'patient')[0]!;
  const cut = workers.find((w) => w.worker.nodeId === victim.node)!;
  await cut.link.stop();
  await eventually('down', () => manager.listNodes().find((x) => x.id === victim.node)?.status === 'down', 10_000, 10);
  const downAt = Date.now();
  t.is(manager.getTask(victim.id)?.state, 'unknown');
  const [nodeState] = (await handled(manager, `/cluster/manager/nodes/${victim.node!}`, '/cluster/manager/services/patient', '/cluster/manager/scheduler')) as [{ loseTimers: Record<string, unknown> }];
  t.true(victim.id in nodeState.loseTimers, 'its node\'s actor waits lostAfterMs to declare it lost');
  t.false(manager.listTasks({ service: 'patient' }).some((x) => x.generation > victim.generation), 'not re-placed while unknown');
  await eventually('lost, then re-placed', () => running(manager, 'patient').some((x) => x.generation === victim.generation + 1), 20_000, 10);
  t.true(Date.now() - downAt >= 1_900, 'waited lostAfterMs');
  t.deepEqual(events.filter((e) => e.subject === victim.id && e.type === 'task.state').map((e) => e.data['state']).slice(-2), ['unknown', 'lost']);
});

test.serial('disconnect.replace false: the task waits for its node and is adopted back, never duplicated', async (t) => {
  const { dir, manager } = await startManager(t);
  const workers = await inProcessWorkers(t, manager, dir, 2);
  await manager.putService({ name: 'pinned', replicas: 1, task: { command: ['node', ECHO_SERVER], env: { PORT: '0' }, disconnect: { replace: false } } });
  await eventually('running', () => running(manager, 'pinned').length === 1, 20_000);
  const victim = running(manager, 'pinned')[0]!;
  const cut = workers.find((w) => w.worker.nodeId === victim.node)!;
  await cut.link.stop();
  await eventually('down', () => manager.listNodes().find((x) => x.id === victim.node)?.status === 'down', 10_000, 10);
  // Its node's actor wrote `down` and told the controller in one step (then ended: nothing of it waits); the controller and then the
  // scheduler have handled that once they answer.
  await handled(manager, '/cluster/manager/services/pinned', '/cluster/manager/scheduler');
  t.is(manager.getTask(victim.id)?.state, 'unknown');
  t.is(manager.listTasks({ service: 'pinned' }).length, 1, 'no replacement');
  cut.link.start();
  await eventually('adopted back', () => manager.getTask(victim.id)?.state === 'running', 20_000);
  t.is(cut.worker.task(victim.id)?.restarts, 0);
  t.is(manager.listTasks({ service: 'pinned' }).length, 1);
});
