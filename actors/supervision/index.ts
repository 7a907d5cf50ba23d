/**
 * actors/supervision — the nact bridge of lib/supervision: supervised nact
 * actors ({@link actorChild}), nested supervisors with their own nact actor
 * ({@link nactSupervisorChild}), and {@link startSupervisor} for a root.
 */
import type { Ref } from 'nact';
import { Supervisor, supervisorChild, type ChildSpec, type SupervisorChildInput, type SupervisorOptions } from '../../lib/supervision/index.js';
import { nactHosts, spawnHost, type NactRef } from './host.js';
import { stop } from 'nact';

export { actorChild, type ActorBehaviour, type ActorChildInput, type ActorContext } from './actor.js';
export { type NactRef } from './host.js';
export { adminCall, checkMessage, noActorAt, type AdminCall, type Inspectable } from './admin.js';

/** A nested supervisor whose children live under its own nact actor. */
export function nactSupervisorChild(input: SupervisorChildInput<NactRef>): ChildSpec<NactRef> {
  return supervisorChild(input, nactHosts);
}

/** Options of a root supervisor under a nact system or actor. */
export type RootSupervisorOptions = Omit<SupervisorOptions<NactRef>, 'host' | 'onExit' | 'dispose' | 'parentPath'>;

/**
 * Starts a root supervisor under `parent` (a nact system or actor): spawns
 * its actor, starts its children in order, and resolves once they started.
 * Subscribe to failures with `supervisor.whenFailed()` or its events.
 */
export async function startSupervisor(parent: Ref<unknown>, options: RootSupervisorOptions): Promise<Supervisor<NactRef>> {
  const host = spawnHost(parent as NactRef, options.id);
  let supervisor: Supervisor<NactRef>;
  try {
    supervisor = new Supervisor<NactRef>({ ...options, host, dispose: () => stop(host) });
  } catch (err) {
    stop(host);
    throw err;
  }
  await supervisor.start();
  return supervisor;
}
