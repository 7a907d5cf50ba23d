/**
 * Choosing the runtime at worker start: `docker` or `process` when asked,
 * or `auto` — Docker when its engine answers a ping within a short timeout,
 * else local processes only when the node allows them (`allowProcess`) —
 * and saying which was chosen and why. `auto` never widens what a node
 * allows: without Docker and without the opt-in, the node keeps the Docker
 * runtime (it takes tasks once the engine answers) and refuses tasks meanwhile.
 */
import type Dockerode from 'dockerode';
import { DOCKER_PING_TIMEOUT_MS, DockerRuntime } from './docker.js';
import { ProcessRuntime } from './process.js';
import type { Runtime, RuntimeKind } from './types.js';
import type { LogRotation } from '../logs/rotate.js';

/** Options of {@link createRuntime}. */
export interface CreateRuntimeOptions {
  /** Which runtime; `auto` picks docker when its engine answers, else process. @default 'auto' */
  runtime?: 'auto' | RuntimeKind;
  /** The worker's data dir; the process runtime keeps task folders under `<dataDir>/tasks`. */
  dataDir: string;
  /** The cluster `list()` shows by default. */
  cluster?: string;
  /** The node `list()` shows by default. */
  nodeId?: string;
  /** How to reach the Docker engine. @default the local socket /var/run/docker.sock */
  docker?: Dockerode.DockerOptions;
  /** How long `auto` waits for the engine's ping, in ms. @default 1000 */
  probeTimeoutMs?: number;
  /** Working directory of task processes (process runtime). @default process.cwd() */
  cwd?: string;
  /**
   * May `auto` fall back to running tasks as local processes (any command, as
   * the worker's user) when Docker does not answer? An explicit `runtime:
   * 'process'` is its own opt-in. @default false
   */
  allowProcess?: boolean;
  /** Size-based rotation of every task's log (both runtimes). @default 10 MiB × 3 files */
  logRotation?: Partial<LogRotation>;
}

/** The runtime {@link createRuntime} chose, and why. */
export interface RuntimeChoice {
  /** The runtime, ready to use. */
  runtime: Runtime;
  /** Its kind. */
  kind: RuntimeKind;
  /** One line for the log, e.g. `auto: docker engine at /var/run/docker.sock answers`. */
  reason: string;
  /** Set when `auto` found no Docker and processes are not allowed: why this node refuses tasks while Docker does not answer. */
  refusesTasks?: string;
}

/**
 * Creates the runtime `options.runtime` asks for. An explicit `docker` is
 * returned even when the engine does not answer yet (the worker starts
 * degraded and waits for it); `auto` falls back to `process` in that case.
 */
export async function createRuntime(options: CreateRuntimeOptions): Promise<RuntimeChoice> {
  const wanted = options.runtime ?? 'auto';
  const shared = {
    ...(options.logRotation === undefined ? {} : { logRotation: options.logRotation }),
    ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
    ...(options.nodeId === undefined ? {} : { nodeId: options.nodeId }),
  };
  if (wanted === 'process') {
    const runtime = new ProcessRuntime({ dataDir: options.dataDir, ...shared, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
    return { runtime, kind: 'process', reason: 'process runtime requested' };
  }
  const docker = new DockerRuntime({
    ...shared,
    ...(options.docker === undefined ? {} : { dockerOptions: options.docker }),
    pingTimeoutMs: options.probeTimeoutMs ?? DOCKER_PING_TIMEOUT_MS,
  });
  const health = await docker.health();
  if (wanted === 'docker') {
    return { runtime: docker, kind: 'docker', reason: `docker runtime requested; ${health.detail}` };
  }
  if (health.ok) return { runtime: docker, kind: 'docker', reason: `auto: ${health.detail}` };
  if (options.allowProcess !== true) {
    const refusesTasks = `Docker does not answer (${health.detail}) and this node does not allow the process runtime (--allow-process, or worker.allowProcess in the config)`;
    return { runtime: docker, kind: 'docker', reason: `auto: ${refusesTasks}; it takes no tasks until Docker answers`, refusesTasks };
  }
  await docker.close();
  const runtime = new ProcessRuntime({ dataDir: options.dataDir, ...shared, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
  return { runtime, kind: 'process', reason: `auto: ${health.detail}; using local processes (allowed by --allow-process)` };
}
