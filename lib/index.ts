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
