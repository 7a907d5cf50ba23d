/**
 * The worker with the Docker runtime against the raw engine, side by side on
 * the same image (goat/echo:latest) and the same published port:
 *
 * - submit → running: `worker.assign(…)` until the worker reports the task
 *   `running`, against the two engine calls `docker run -d` makes (create,
 *   start) through dockerode — no CLI process is spawned, which would only
 *   slow the baseline down and flatter Goat.
 * - `docker kill` → running again: a task with restart policy `always` and a
 *   zero backoff (only the restart mechanism is measured, not a delay),
 *   against `kill` + `start` of a plain container.
 *
 * Every container carries a cluster label unique to the run and is removed at
 * the end. Needs a Docker engine: see {@link dockerEngineProblem}.
 */
import { createConsola } from 'consola';
import Dockerode from 'dockerode';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type TaskView } from '../actors/worker/index.js';
import { LABELS } from '../lib/runtime/identity.js';
import { packageRoot } from '../lib/package-root.js';
import { compare, now, type Comparison, type Run } from './measure.js';

const IMAGE = 'goat/echo:latest';
/** The port the echo server listens on inside its container. */
const ECHO_PORT = 7777;

/** The engine the benchmarks use (the default local socket, as the worker's runtime). */
const docker = new Dockerode();

/**
 * Why the Docker benchmarks cannot run — the engine does not answer within 2 s
 * — or undefined when they can.
 */
export async function dockerEngineProblem(): Promise<string | undefined> {
  try {
    // dockerode accepts an abort signal here; its typings do not say so.
    await (docker as unknown as { ping(o: { abortSignal: AbortSignal }): Promise<unknown> }).ping({ abortSignal: AbortSignal.timeout(2000) });
    return undefined;
  } catch (err) {
    return (err as Error).message || String(err);
  }
}


/** Builds the images (when out of date) with the builder of `npm run images`, as the docker tests do. */
async function buildImages(): Promise<void> {
  const builder = (await import(pathToFileURL(join(packageRoot(import.meta.url), 'images', 'build.mjs')).href)) as {
    buildImages(options: { docker: Dockerode; apps: string[]; log?: (line: string) => void }): Promise<unknown>;
  };
  await builder.buildImages({ docker, apps: ['echo'], log: () => undefined });
}

/** A TCP port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '0.0.0.0' }, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Create options of a plain container: what `docker run -d -p <port>:7777 --label … goat/echo:latest` sends. */
function rawOptions(cluster: string, name: string, port: number): Dockerode.ContainerCreateOptions {
  const key = `${ECHO_PORT}/tcp`;
  return {
    name,
    Image: IMAGE,
    Labels: { [LABELS.cluster]: cluster },
    ExposedPorts: { [key]: {} },
    HostConfig: { PortBindings: { [key]: [{ HostPort: String(port) }] } },
  };
}

/** Resolves with the first task event of `worker` that `match` accepts; rejects after `timeoutMs`. */
function taskEvent(worker: Worker, match: (task: TaskView) => boolean, timeoutMs = 30_000): Promise<TaskView> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching task event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = worker.subscribe((e) => {
      if (e.type !== 'task' || !match(e.task)) return;
      clearTimeout(timer);
      off();
      resolve(e.task);
    });
  });
}

/** The state of one benchmark run: a worker, a port, a unique cluster label, and a counter for names. */
interface Bench {
  worker: Worker;
  cluster: string;
  port: number;
  next(): number;
}

/** Baseline: create + start a container (`docker run -d`), timed until start resolves; removed untimed. */
function rawRun(b: Bench, ops: number): Run {
  return async () => {
    let ms = 0;
    for (let i = 0; i < ops; i++) {
      const name = `goat-bench-raw-${b.cluster}-${b.next()}`;
      const t0 = now();
      const container = await docker.createContainer(rawOptions(b.cluster, name, b.port));
      await container.start();
      ms += now() - t0;
      await container.remove({ force: true });
    }
    return { ops, ms };
  };
}

/** Candidate: `worker.assign` of the same container until the worker reports it running; stopped and removed untimed. */
function workerRun(b: Bench, ops: number): Run {
  return async () => {
    let ms = 0;
    for (let i = 0; i < ops; i++) {
      const taskId = `bench.0.r${b.next()}`;
      const spec = { image: IMAGE, ports: [{ host: b.port, container: ECHO_PORT }], stopTimeoutMs: 0 };
      const t0 = now();
      const running = taskEvent(b.worker, (t) => t.id === taskId && t.state === 'running');
      await b.worker.assign({ taskId, service: 'bench', slot: 0, generation: 1, spec });
      await running;
      ms += now() - t0;
      await b.worker.stopTask(taskId);
      await b.worker.runtime.remove(taskId, 1);
    }
    return { ops, ms };
  };
}

/** Baseline: `kill` then `start` of one running container, timed from the kill call until start resolves. */
function rawKillRun(b: Bench, ops: number): Run {
  return async () => {
    const container = await docker.createContainer(rawOptions(b.cluster, `goat-bench-rawkill-${b.cluster}-${b.next()}`, b.port));
    await container.start();
    let ms = 0;
    for (let i = 0; i < ops; i++) {
      const t0 = now();
      await container.kill(); // SIGKILL: the engine answers once the container has stopped
      await container.start();
      ms += now() - t0;
    }
    await container.remove({ force: true });
    return { ops, ms };
  };
}

/** Candidate: `kill` of a task's container until the worker reports the task running again (restart `always`, backoff 0). */
function workerKillRun(b: Bench, ops: number): Run {
  return async () => {
    const taskId = `bench.0.k${b.next()}`;
    const spec = {
      image: IMAGE,
      ports: [{ host: b.port, container: ECHO_PORT }],
      stopTimeoutMs: 0,
      restart: { policy: 'always', maxRestarts: 1_000_000, windowMs: 60_000, backoff: { initialMs: 0, jitter: 0 } },
    };
    const first = taskEvent(b.worker, (t) => t.id === taskId && t.state === 'running');
    await b.worker.assign({ taskId, service: 'bench', slot: 0, generation: 1, spec });
    await first;
    const container = docker.getContainer((await b.worker.runtime.inspect(taskId, 1))!.runtimeId);
    let ms = 0;
    for (let i = 0; i < ops; i++) {
      const restarts = b.worker.task(taskId)!.restarts;
      const t0 = now();
      // The new `running`: after the restart counter moved on, not a late report of the old run.
      const again = taskEvent(b.worker, (t) => t.id === taskId && t.restarts > restarts && t.state === 'running');
      await Promise.all([container.kill(), again]);
      ms += now() - t0;
    }
    await b.worker.stopTask(taskId);
    await b.worker.runtime.remove(taskId, 1);
    return { ops, ms };
  };
}

/** Force-removes every container labelled with `cluster`. */
async function removeCluster(cluster: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.cluster}=${cluster}`] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}

/**
 * Both worker benchmarks, against a Docker engine that must answer (check
 * {@link dockerEngineProblem} first): submit → running vs `docker run -d`, and
 * `docker kill` → running again vs `docker start`. Builds goat/echo:latest
 * when it is out of date; `scale` sets the operations per round (1 → 4 ops ×
 * 7 rounds per variant; 0.1 → 1 op × 3 rounds).
 */
export async function workerBenchmarks(scale = 1): Promise<Comparison[]> {
  await buildImages();
  const ops = Math.max(1, Math.round(4 * scale));
  const rounds = Math.max(3, Math.round(7 * scale));
  const cluster = `goat-bench-${process.pid}-${Date.now().toString(36)}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'goat-bench-worker-'));
  let worker: Worker | undefined;
  try {
    worker = await Worker.start({ dataDir, runtime: 'docker', cluster, logger: createConsola({ level: 0 }) });
    let counter = 0;
    const b: Bench = { worker, cluster, port: await freePort(), next: () => ++counter };
    return [
      await compare('submit → running (docker)', ['docker run -d', rawRun(b, ops)], ['goat worker', workerRun(b, ops)], rounds),
      await compare('docker kill → running again', ['kill + start', rawKillRun(b, ops)], ['goat restart', workerKillRun(b, ops)], rounds),
    ];
  } finally {
    if (worker) {
      for (const task of worker.tasks()) await worker.runtime.remove(task.id, task.generation).catch(() => undefined);
      await worker.shutdown().catch(() => undefined);
    }
    await removeCluster(cluster).catch((err: unknown) => console.warn(`bench: could not remove the containers labelled ${LABELS.cluster}=${cluster}: ${(err as Error).message}`));
    await rm(dataDir, { recursive: true, force: true });
  }
}
