/**
 * goat-cluster — the library API. Today: OTP-style supervision for nact
 * actors (also what Goat's own tree runs on) and Goat's error type.
 * Cluster APIs (`createCluster`, `joinCluster`, `defineConfig`) arrive with
 * the manager and worker.
 */
export { GoatError, isGoatError, ERROR_CODES, type GoatErrorCode, type GoatErrorOptions } from './errors.js';
export * from './supervision/index.js';
export {
  actorChild,
  nactSupervisorChild,
  startSupervisor,
  type ActorBehaviour,
  type ActorChildInput,
  type ActorContext,
  type NactRef,
  type RootSupervisorOptions,
} from '../actors/supervision/index.js';
/** The worker, runnable on its own in-process until the manager and `joinCluster` arrive. */
export { Worker, type WorkerOptions, type TaskView, type WorkerEvent, type AssignInput } from '../actors/worker/index.js';
export { TASK_DEFAULTS, normalizeTaskSpec, type TaskSpec, type TaskSpecInput, type TaskState, type RestartPolicy } from './model/index.js';
/** The manager and a worker that joins it (the building blocks of `createCluster`, which comes with the config). */
export { Manager, type ManagerOptions } from '../actors/manager/manager.js';
export { ClusterRoot, type ClusterRootOptions } from '../actors/cluster/index.js';
export { joinCluster, type JoinOptions, type JoinedWorker } from '../actors/worker/index.js';
export { normalizeServiceSpec, type ServiceSpec, type ServiceSpecInput, type ServiceRecord, type TaskRecord, type NodeRecord, type ClusterEvent } from './model/index.js';
/** `cluster.config.ts`: `export default defineConfig({ cluster, manager, worker, services })`. */
export { defineConfig, loadConfig, type GoatConfig, type ResolvedConfig } from './config/index.js';
/** Goat inside a Node service: a manager and a local worker in this process. */
export { createCluster, type Cluster, type CreateClusterOptions } from './cluster.js';
