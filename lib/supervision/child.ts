/**
 * What a supervisor needs from a child, independent of what the child is (a
 * nact actor, a nested supervisor, a container): a spec that starts it and a
 * handle that delivers, stops and kills it.
 */
import type { Random } from './backoff.js';
import type { Clock } from './clock.js';
import type { EventBus } from './events.js';
import type { TreeNode } from './snapshot.js';
import type { ChildOptionsInput } from './spec.js';
import type { ExitReason } from './types.js';
import type { HandleIntrospection } from './introspect.js';
import type { PathHandle } from './supervisor.js';

/** A running incarnation of a child. */
export interface ChildHandle {
  /** Hands a message to the running child (never called while it restarts). */
  deliver(message: unknown): void;
  /** Asks the child to stop gracefully; resolves once it has stopped. */
  shutdown(): Promise<void>;
  /** Stops the child at once (after `shutdownMs` ran out, or `shutdownMs: 0`). */
  kill(): void;
  /** A nested supervisor's view of its own subtree. */
  snapshot?(): TreeNode;
  /** A nested supervisor's lookup of a deeper path. */
  lookup?(path: string): ChildRefLike | undefined;
  /** A nested supervisor's introspection of itself or a deeper path. */
  inspect?(path: string): PathHandle | undefined;
  /** What an actor can say about itself: mailbox, state, crash on demand, accepted messages. */
  introspect?: HandleIntrospection;
}

/** The minimum of a child reference: what {@link ChildHandle.lookup} returns. */
export interface ChildRefLike {
  readonly path: string;
  send(message: unknown): Delivery;
}

/** What happened to a sent message. */
export type Delivery = 'delivered' | 'stashed' | 'dead';

/** What a child's `start` gets from its supervisor. */
export interface StartContext<H> {
  /** The child's id. */
  id: string;
  /** The child's path, e.g. `/cluster/worker/tasks/web.0.x1`. */
  path: string;
  /** The supervisor's host object (for the nact bridge: the supervisor's actor). */
  host: H;
  /** The tree's clock, bus and random source. */
  clock: Clock;
  bus: EventBus;
  random: Random;
  /**
   * Reports that this incarnation stopped by itself (crash or normal exit).
   * `unhandled` are messages it had received but not handled yet; they are
   * kept for the next incarnation. Calls after the incarnation was replaced
   * or stopped by the supervisor are ignored.
   *
   * A child that can reset itself in place, keeping its own queue (nact's
   * `reset`), passes `canResetInPlace`; when the decision is an immediate
   * restart of this child alone, the supervisor records the restart and
   * returns true: the child then resets itself and `unhandled` is ignored.
   * Otherwise it returns false and the child must stop now.
   */
  exit(reason: ExitReason, unhandled?: unknown[], canResetInPlace?: boolean): boolean;
}

/** A child spec: restart options plus how to start it. */
export interface ChildSpec<H = unknown> extends ChildOptionsInput {
  /** `supervisor` for nested supervisors (shown in snapshots). @default 'worker' */
  kind?: 'worker' | 'supervisor';
  /** Starts one incarnation. Throwing or rejecting counts as a crash. */
  start(ctx: StartContext<H>): ChildHandle | Promise<ChildHandle>;
}
