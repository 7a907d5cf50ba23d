/**
 * A {@link RuntimeTask} as Docker container create options: name, labels,
 * env, command, published ports and limits. Pure, so it is tested without an
 * engine.
 */
import type Dockerode from 'dockerode';
import { GoatError } from '../errors.js';
import { containerName, taskLabels } from './identity.js';
import type { PortMapping, RuntimeTask } from './types.js';

const MIB = 1024 * 1024;

/** The image of a docker task, or `GOAT_ERR_INVALID_SPEC` naming `spec.image`. */
export function imageOf(task: RuntimeTask): string {
  const image = task.spec.image;
  if (typeof image !== 'string' || image.length === 0) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `task ${task.taskId} has no image; the docker runtime needs one`, {
      details: { field: 'spec.image' },
    });
  }
  return image;
}

/** Docker's key for a container port, e.g. `7777/tcp`. */
export function portKey(port: number): string {
  return `${port}/tcp`;
}

/** The env var a test run sets (spec/suite.ts) so that what it starts can be found afterwards: task processes keep it, containers get {@link TEST_RUN_LABEL}. */
export const TEST_RUN_ENV = 'GOAT_TEST_RUN';

/** The label of containers started while {@link TEST_RUN_ENV} is set, with its value. */
export const TEST_RUN_LABEL = 'goat.test-run';

/** `{ 'goat.test-run': id }` when `env` has `GOAT_TEST_RUN=id`, else nothing. */
export function testRunLabels(env: NodeJS.ProcessEnv): Record<string, string> {
  const id = env[TEST_RUN_ENV];
  return id ? { [TEST_RUN_LABEL]: id } : {};
}

/**
 * The options to create the container of `task` (validated by `checkTask`
 * first; never pulls: the image must be present), with `extraLabels` added
 * to Goat's own.
 */
export function containerOptions(task: RuntimeTask, extraLabels: Record<string, string> = {}): Dockerode.ContainerCreateOptions {
  const { spec } = task;
  const ports: PortMapping[] = spec.ports ?? [];
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostPort: string }>> = {};
  ports.forEach((port) => {
    const key = portKey(port.container);
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostPort: port.host === undefined ? '' : String(port.host) });
  });
  const memory = spec.resources?.memoryMb === undefined ? undefined : Math.round(spec.resources.memoryMb * MIB);
  return {
    name: containerName(task.taskId, task.generation),
    Image: imageOf(task),
    ...(spec.command === undefined ? {} : { Cmd: spec.command }),
    Env: Object.entries(spec.env ?? {}).map(([key, value]) => `${key}=${value}`),
    Labels: { ...extraLabels, ...taskLabels(task) },
    ExposedPorts: exposed,
    HostConfig: {
      PortBindings: bindings,
      ...(spec.resources?.cpu === undefined ? {} : { NanoCpus: Math.round(spec.resources.cpu * 1e9) }),
      // MemorySwap equal to Memory: no swap, so a task over its limit is OOM-killed, not slowed down.
      ...(memory === undefined ? {} : { Memory: memory, MemorySwap: memory }),
    },
  };
}

/**
 * The published ports in a container's inspect data, with engine-chosen host
 * ports while it runs. Ports the image only EXPOSEs are not published: left out.
 */
export function publishedPorts(info: Dockerode.ContainerInspectInfo): PortMapping[] {
  const live = (info.NetworkSettings?.Ports ?? {}) as Record<string, Array<{ HostPort?: string }> | null>;
  const configured = info.HostConfig?.PortBindings as Record<string, Array<{ HostPort?: string }> | null> | undefined;
  const keys = new Set([...Object.keys(configured ?? {}), ...Object.keys(live).filter((key) => live[key])]);
  const result: PortMapping[] = [];
  for (const key of keys) {
    const container = Number.parseInt(key, 10);
    const hostPort = live[key]?.[0]?.HostPort || configured?.[key]?.[0]?.HostPort;
    result.push(hostPort ? { host: Number(hostPort), container } : { container });
  }
  return result.sort((a, b) => a.container - b.container);
}
