/**
 * Choosing the runtime at worker start: `docker` or `process` when asked,
 * or `auto` — Docker when its engine answers a ping within a short timeout,
 * else local processes — and saying which was chosen and why.
 */
import type Dockerode from 'dockerode';
import { DockerRuntime } from './docker.js';
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
    pingTimeoutMs: options.probeTimeoutMs ?? 1000,
  });
  const health = await docker.health();
  if (wanted === 'docker') {
    return { runtime: docker, kind: 'docker', reason: `docker runtime requested; ${health.detail}` };
  }
  if (health.ok) return { runtime: docker, kind: 'docker', reason: `auto: ${health.detail}` };
  await docker.close();
  const runtime = new ProcessRuntime({ dataDir: options.dataDir, ...shared, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
  return { runtime, kind: 'process', reason: `auto: ${health.detail}; using local processes` };
}
