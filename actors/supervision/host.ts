/** nact actors that stand for supervisors in nact's tree, so actor paths mirror the supervision tree. */
import { spawn, stop, type Ref } from 'nact';
import type { HostFactory } from '../../lib/supervision/index.js';

/** A nact reference (an actor or the system) under which children are spawned. */
export type NactRef = Ref<unknown>;

/** Spawns the placeholder actor of a supervisor; it holds children and handles no messages. */
export function spawnHost(parent: NactRef, name: string): NactRef {
  return spawn(parent as Ref<never>, (state: unknown) => state, name) as NactRef;
}

/** Host factory for nested supervisors: one placeholder actor each, stopped with the supervisor. */
export const nactHosts: HostFactory<NactRef> = {
  create: (ctx) => spawnHost(ctx.host, ctx.id),
  dispose: (host) => stop(host),
};
