/**
 * lib/runtime — how a worker runs tasks on its node. One {@link Runtime}
 * interface (prepare, start, wait, inspect, stop, remove, list, logs, stats,
 * capacity, health) with two implementations: {@link DockerRuntime}
 * (containers named and labelled per DESIGN.md, never pulls) and
 * {@link ProcessRuntime} (detached process groups recorded under the data
 * dir), and {@link createRuntime} to pick one (`auto`: Docker when its engine
 * answers). Resource problems are `GOAT_ERR_RESOURCE` with
 * `details.resource`, so callers re-place the task instead of restarting it.
 * No actors here: the worker's actors are built on top.
 */
export type {
  Capacity,
  ExitInfo,
  ExecResult,
  ExitReason,
  ListFilter,
  LogTail,
  PortMapping,
  PrepareResult,
  RunningTask,
  Runtime,
  RuntimeHealth,
  RuntimeKind,
  RuntimeTask,
  RuntimeTaskSpec,
  TaskResources,
  TaskStats,
  TaskStatus,
} from './types.js';
export { createRuntime } from './auto.js';
export type { CreateRuntimeOptions, RuntimeChoice } from './auto.js';
export { DockerRuntime } from './docker.js';
export type { DockerRuntimeOptions } from './docker.js';
export { ProcessRuntime } from './process.js';
export type { ProcessRuntimeOptions } from './process.js';
export { LABELS, containerName, instanceKey } from './identity.js';
export type { TaskIdentity } from './identity.js';
