/** Supervisors as children of supervisors: the links of an escalation chain. */
import type { ChildHandle, ChildSpec, StartContext } from './child.js';
import type { ChildOptionsInput, SupervisorFlagsInput } from './spec.js';
import { Supervisor } from './supervisor.js';

/** A nested supervisor's spec: child options, its own flags and its children. */
export interface SupervisorChildInput<H> extends ChildOptionsInput, SupervisorFlagsInput {
  /** The children, or a function giving them afresh at every (re)start. */
  children?: ChildSpec<H>[] | (() => ChildSpec<H>[]);
  /** Called with each new incarnation of the nested supervisor once its children started. */
  onStarted?: (supervisor: Supervisor<H>) => void;
  /**
   * Called with each new incarnation as soon as it exists, before its children
   * start: calls made on it meanwhile (startChild, stopChild) queue behind its start.
   */
  onCreated?: (supervisor: Supervisor<H>) => void;
}

/** Makes the host a nested supervisor hands to its children, and releases it. */
export interface HostFactory<H> {
  create(ctx: StartContext<H>): H;
  dispose(host: H): void;
}

/** A host factory for supervisors whose children need no host. */
export const sameHost: HostFactory<unknown> = { create: (ctx) => ctx.host, dispose: () => undefined };

/**
 * A child spec that runs a nested {@link Supervisor}. When the nested one
 * spends its budget it stops its children and exits with an error: to its
 * parent, that is this child crashing. `restart` defaults to `permanent`.
 */
export function supervisorChild<H>(input: SupervisorChildInput<H>, hosts: HostFactory<H>): ChildSpec<H> {
  const { children = [], strategy, maxRestarts, windowMs, onStarted, onCreated, ...childOptions } = input;
  return {
    ...childOptions,
    // A nested supervisor stops its own children first; give it time for theirs.
    shutdownMs: childOptions.shutdownMs ?? 30_000,
    kind: 'supervisor',
    async start(ctx): Promise<ChildHandle> {
      const host = hosts.create(ctx);
      const parentPath = ctx.path.slice(0, ctx.path.lastIndexOf('/'));
      const sup = new Supervisor<H>({
        id: ctx.id, path: ctx.path, host, children: typeof children === 'function' ? children() : children, clock: ctx.clock, random: ctx.random, bus: ctx.bus,
        strategy, maxRestarts, windowMs, parentPath,
        onExit: (reason) => ctx.exit(reason),
        dispose: () => hosts.dispose(host),
      });
      onCreated?.(sup);
      await sup.start();
      onStarted?.(sup);
      return {
        deliver: (message) => void ctx.bus.emit({ type: 'dead_letter', path: ctx.path, reason: 'not_an_actor', message }),
        shutdown: () => sup.stop(),
        kill: () => sup.kill(),
        snapshot: () => sup.snapshot(),
        lookup: (path) => sup.lookup(path),
        inspect: (path) => sup.inspect(path),
      };
    },
  };
}
