/**
 * `dockerd` is stopped and started again under a running worker: the node
 * goes `degraded`, then `ready`, and every task runs again exactly once.
 * (live-restore is off, so the containers die with the daemon and the worker
 * must start them again.)
 *
 * This disrupts the machine's one Docker engine, so it must not run beside
 * the other docker tests: `dist/spec/disruptive/**` is left out of ava's
 * default `files` and `npm test` runs it afterwards, alone
 * (`ava --serial dist/spec/disruptive/*.spec.js`). dockerd is always started
 * again: in the teardown, and — should this test process itself die — by a
 * small detached watchdog that restarts it once this process is gone.
 *
 * Opt-in outside CI (GOAT_TEST_DISRUPTIVE=1). Skipped with a message when no
 * engine answers or no local dockerd runs; in CI (CI=true) it fails instead.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker, type WorkerEvent } from '../../actors/worker/index.js';
import { docker, dockerUp, imageBuilder, removeClusterContainers, runDockerTests } from '../runtime/helpers/docker.js';
import { freePort, post } from '../runtime/helpers/net.js';
import { eventually } from '../runtime/helpers/wait.js';

const run = promisify(execFile);
const ECHO = 'goat/echo:latest';
const CLUSTER = `goat-dr-${process.pid}-${Date.now().toString(36)}`;
const inCI = process.env['CI'] === 'true';

/** Where a dockerd this test starts writes its output: the CI log when writable (as `.ci/run`), else a temp file. */
const DOCKERD_LOG = (() => {
  const ci = '/var/log/goat-ci-dockerd.log';
  try {
    accessSync('/var/log', constants.W_OK);
    return ci;
  } catch {
    return join(tmpdir(), 'goat-dockerd.log');
  }
})();

/** Pids of the running dockerd processes (`pidof dockerd`). */
async function dockerdPids(): Promise<number[]> {
  try {
    const { stdout } = await run('pidof', ['dockerd']);
    return stdout.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return []; // pidof exits 1 when there is none
  }
}

/** True when `docker info` succeeds (as `.ci/run` checks the engine). */
async function engineAnswers(): Promise<boolean> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** True while `pid` runs (a zombie does not count). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The local dockerd this test may stop, and its command line (to start it the same way). */
const local = await (async () => {
  if (!dockerUp) return undefined;
  const [pid] = await dockerdPids();
  if (pid === undefined) return undefined;
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  return { pid, argv: argv.length > 0 ? argv : ['dockerd'] };
})();

/** Stopping a developer's dockerd is opt-in: CI=true, or GOAT_TEST_DISRUPTIVE=1. */
const allowed = inCI || process.env['GOAT_TEST_DISRUPTIVE'] === '1';
if (!allowed) {
  console.warn('dockerd restart test skipped: it stops and restarts this machine\'s dockerd; set GOAT_TEST_DISRUPTIVE=1 to run it (CI always does)');
} else if (runDockerTests && !local && !inCI) {
  console.warn('dockerd restart test skipped: no local dockerd process to stop (pidof dockerd found none)');
}

let watchdog: number | undefined;

/**
 * Starts a detached shell that waits while this process lives (at most
 * `maxSeconds`), then starts dockerd with `argv` unless a dockerd runs or
 * the engine answers. The last resort if this process dies with dockerd down.
 */
function startWatchdog(argv: string[], maxSeconds: number): void {
  const script = [
    'parent=$1; max=$2; log=$3; shift 3; i=0',
    'while kill -0 "$parent" 2>/dev/null && [ "$i" -lt "$max" ]; do sleep 1; i=$((i+1)); done',
    'pidof dockerd >/dev/null 2>&1 && exit 0',
    'docker info >/dev/null 2>&1 && exit 0',
    'exec "$@" >>"$log" 2>&1 </dev/null',
  ].join('\n');
  const child = spawn('sh', ['-c', script, 'goat-dockerd-watchdog', String(process.pid), String(maxSeconds), DOCKERD_LOG, ...argv], {
    detached: true,
    stdio: 'ignore',
    cwd: '/',
    env: engineEnv(),
  });
  child.unref();
  watchdog = child.pid;
}

function stopWatchdog(): void {
  if (watchdog === undefined) return;
  try {
    process.kill(watchdog, 'SIGKILL');
  } catch {
    // already gone
  }
  watchdog = undefined;
}

/**
 * The environment of a dockerd this test starts: ours without GOAT_TEST_RUN
 * and with the TMPDIR from before the run, since the engine is meant to
 * outlive the test run (spec/suite.ts). The run's TMPDIR is deleted when the
 * run ends, and runc writes each `docker exec`'s process spec into TMPDIR:
 * an engine that inherited it fails every later exec ("OCI runtime exec
 * failed: open <run dir>/runc-process…: no such file or directory").
 */
function engineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'GOAT_TEST_RUN' && k !== 'GOAT_TEST_OUTER_TMPDIR'));
  const outer = process.env['GOAT_TEST_OUTER_TMPDIR'];
  if (outer !== undefined) {
    // Under spec/suite.ts: the run's own TMPDIR goes; the one from before the run (if any) comes back.
    delete env['TMPDIR'];
    if (outer) env['TMPDIR'] = outer;
  }
  return env;
}

/** Stops dockerd with SIGTERM and resolves once its process is gone and `docker info` fails. */
async function stopDockerd(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  await eventually('dockerd to exit', () => !running(pid), 45_000, 100);
  await eventually('docker info to fail', async () => !(await engineAnswers()), 10_000, 200);
}

/**
 * Starts dockerd again, detached so it outlives this test, unless one runs
 * already; resolves once `docker info` answers. Idempotent.
 */
async function restoreDockerd(argv: string[]): Promise<void> {
  if (!(await engineAnswers())) {
    if ((await dockerdPids()).length === 0) {
      const fd = openSync(DOCKERD_LOG, 'a');
      try {
        spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], cwd: '/', env: engineEnv() }).unref();
      } finally {
        closeSync(fd);
      }
    }
    await eventually('dockerd to answer again', engineAnswers, 60_000, 250);
  }
  stopWatchdog();
}

/** Removes the containers of earlier runs of this test that could not clean up (their process died). */
async function removeLeftovers(): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: ['goat.cluster'] } });
  const clusters = new Set(containers.map((c) => c.Labels['goat.cluster'] ?? '').filter((c) => c.startsWith('goat-dr-') && c !== CLUSTER));
  for (const cluster of clusters) await removeClusterContainers(cluster);
}

/** `test.serial` when this test can run (or must, in CI), else skipped. */
const serial = allowed && runDockerTests && (local || inCI) ? test.serial : test.serial.skip;

if (allowed && runDockerTests && (local || inCI)) {
  test.before(async () => {
    if (!dockerUp) throw new Error('CI=true but the Docker engine does not answer; the dockerd restart test cannot run');
    if (!local) throw new Error('CI=true but no local dockerd process runs (pidof dockerd found none); the dockerd restart test cannot run');
    await removeLeftovers();
    const builder = await imageBuilder();
    await builder.buildImages({ docker });
  });
  test.after.always(async () => {
    if (!local) return; // nothing was disrupted
    await restoreDockerd(local.argv);
    await removeClusterContainers(CLUSTER);
  });
}

const containersOf = (taskId: string) =>
  docker.listContainers({ all: true, filters: { label: [`goat.task=${taskId}`, `goat.cluster=${CLUSTER}`] } });

/** A worker with the docker runtime whose runtime actor retries fast; stopped and cleaned at teardown (dockerd first). */
async function startWorker(t: ExecutionContext, argv: string[]): Promise<{ w: Worker; events: WorkerEvent[]; stamps: number[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'goat-dockerd-restart-'));
  const w = await Worker.start({ dataDir: dir, runtime: 'docker', cluster: CLUSTER, runtimeBackoff: { initialMs: 200, maxMs: 1_000 } });
  const events: WorkerEvent[] = [];
  const stamps: number[] = [];
  w.subscribe((e) => {
    events.push(e);
    stamps.push(Date.now());
  });
  t.teardown(async () => {
    await restoreDockerd(argv);
    await w.shutdown().catch(() => undefined);
    await removeClusterContainers(CLUSTER);
    await rm(dir, { recursive: true, force: true });
  });
  return { w, events, stamps };
}

/** One line per node status change, task state change and supervision event, with ms since `t0`. */
function timeline(events: WorkerEvent[], stamps: number[], t0: number): string {
  return events
    .map((e, i) => {
      const at = String((stamps[i] ?? t0) - t0).padStart(6);
      if (e.type === 'node') return `${at} node ${e.status}`;
      if (e.type === 'task') return `${at} task ${e.task.id} ${e.task.state} restarts=${e.task.restarts} adopted=${e.task.adopted}`;
      const extra = 'error' in e.event ? ` ${e.event.error.message.slice(0, 120)}` : 'reason' in e.event ? ` ${String(e.event.reason)}` : '';
      return `${at} ${e.event.type} ${e.event.path}${extra}`;
    })
    .join('\n');
}

serial('dockerd stopped and started again → node degraded, then ready; every task running exactly once afterwards', async (t) => {
  t.timeout(120_000);
  const dockerd = local as NonNullable<typeof local>;
  const started = Date.now();
  const { w, events, stamps } = await startWorker(t, dockerd.argv);
  // The worker's timeline, shown when the test fails (or GOAT_TEST_TIMELINE is set).
  t.teardown(() => {
    if (!t.passed || process.env['GOAT_TEST_TIMELINE']) t.log(`worker timeline (ms since the start):\n${timeline(events, stamps, started)}`);
  });
  t.is(w.runtimeChoice.kind, 'docker');
  t.is(w.status, 'ready');

  const ports = [await freePort(), await freePort()];
  // Ids of this run: a container name left by another run (a stuck removal) must not collide with these.
  const run = Math.random().toString(36).slice(2, 8);
  const ids = [`echo.0.dr${run}`, `echo.1.dr${run}`];
  for (const [slot, id] of ids.entries()) {
    await w.assign({
      taskId: id, service: 'echo', slot, generation: 1,
      spec: { image: ECHO, ports: [{ host: ports[slot], container: 7777 }], restart: { policy: 'always' } },
    });
  }
  const before = new Map<string, { id: string; startedAt: string }>();
  for (const [slot, id] of ids.entries()) {
    await eventually(`${id} running`, () => w.task(id)?.state === 'running', 30_000);
    const containers = await containersOf(id);
    t.is(containers.length, 1);
    const info = await docker.getContainer(containers[0]?.Id as string).inspect();
    before.set(id, { id: info.Id, startedAt: info.State.StartedAt });
    t.is((await post(ports[slot] as number, `before ${id}`)).text, `before ${id}`);
  }

  // dockerd goes away: the node is degraded.
  startWatchdog(dockerd.argv, 150);
  const stopAt = Date.now();
  await stopDockerd(dockerd.pid);
  const stoppedMs = Date.now() - stopAt;
  await eventually('the node degraded', () => w.status === 'degraded', 15_000);
  t.true(events.some((e) => e.type === 'node' && e.status === 'degraded'));
  // While the engine is away the node stays degraded (the runtime actor retries and fails), and no
  // task is restarted: the tasks wait for the runtime instead of crash-looping against the absent engine.
  const restartsAway = ids.map((id) => w.task(id)?.restarts);
  const statusesAway = new Set<string>();
  for (let i = 0; i < 30; i++) {
    statusesAway.add(w.status);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.deepEqual([...statusesAway], ['degraded'], 'degraded all along while the engine is away');
  t.deepEqual(ids.map((id) => w.task(id)?.restarts), restartsAway, 'no task restarted while the engine is away');

  // dockerd comes back: the node is ready and both tasks run again, once each.
  const startAt = Date.now();
  await restoreDockerd(dockerd.argv);
  const restartedMs = Date.now() - startAt;
  await eventually('the node ready again', () => w.status === 'ready', 30_000);
  const nodeEvents = events.filter((e): e is Extract<WorkerEvent, { type: 'node' }> => e.type === 'node').map((e) => e.status);
  t.deepEqual(nodeEvents.slice(-2), ['degraded', 'ready'], JSON.stringify(nodeEvents));

  const again = new Map<string, string>();
  const restartsBack = new Map<string, number>();
  for (const [slot, id] of ids.entries()) {
    await eventually(`${id} running again`, async () => {
      const containers = await containersOf(id);
      return w.task(id)?.state === 'running' && containers.length === 1 && containers[0]?.State === 'running';
    }, 30_000);
    again.set(id, (await docker.getContainer(`goat-${id}-g1`).inspect()).State.StartedAt);
    restartsBack.set(id, w.task(id)?.restarts ?? -1);
    t.is((await post(ports[slot] as number, `after ${id}`)).text, `after ${id}`);
  }
  // Let any late restart or duplicate show itself, then check each task once more.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  for (const id of ids) {
    const containers = await containersOf(id);
    t.is(containers.length, 1, `${id}: ${JSON.stringify(containers.map((c) => [c.Names, c.State]))}`);
    const info = await docker.getContainer(containers[0]?.Id as string).inspect();
    const old = before.get(id);
    t.is(info.Id, old?.id as string, `${id}: the same container, started again (not a new one)`);
    t.true(info.State.Running);
    t.not(info.State.StartedAt, old?.startedAt, `${id}: it died with the daemon and was started again`);
    t.true(Date.parse(info.State.StartedAt) >= startAt - 1_000, `${id}: started after dockerd came back`);
    t.is(info.State.StartedAt, again.get(id) as string, `${id}: started once, not again since`);
    const view = w.task(id);
    t.is(view?.state, 'running', JSON.stringify(view));
    t.is(view?.error, null, JSON.stringify(view));
    t.is(view?.restarts, restartsBack.get(id), `${id}: not restarted since it ran again`);
  }
  t.is(w.status, 'ready');
  t.log(`dockerd stopped in ${stoppedMs} ms, back in ${restartedMs} ms; whole test ${Date.now() - started} ms`);
  t.log(`task restarts: ${JSON.stringify(ids.map((id) => [id, w.task(id)?.restarts]))}`);
});
