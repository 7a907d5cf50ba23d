/** Stable references to supervised children: `send` and `ask` that survive restarts. */
import { GoatError } from '../errors.js';
import type { ChildRefLike, Delivery } from './child.js';
import type { Clock } from './clock.js';

/** The part of a supervisor a reference needs. */
export interface RefHost {
  readonly clock: Clock;
  deliver(id: string, message: unknown, onDead?: (reason: string) => void): Delivery;
}

/** A reply function handed to the child inside an ask's message. */
export type Reply<R> = (value: R) => void;

/**
 * A reference to a supervised child by id. Messages sent while the child
 * restarts are stashed (bounded) and delivered in order afterwards; messages
 * to a stopped, failed or unknown child become `dead_letter` events.
 */
export class ChildRef implements ChildRefLike {
  constructor(
    private readonly host: RefHost,
    /** The child's id under its supervisor. */
    readonly id: string,
    /** The child's absolute path. */
    readonly path: string,
  ) {}

  /** Sends a message; says whether it was delivered, stashed or dead-lettered. */
  send(message: unknown): Delivery {
    return this.host.deliver(this.id, message);
  }

  /**
   * Sends `make(reply)` and waits for the child to call `reply`. Rejects with
   * GOAT_ERR_ASK_TIMEOUT after `timeoutMs`, or GOAT_ERR_DEAD_LETTER at once
   * when the message cannot be delivered.
   */
  ask<R>(make: (reply: Reply<R>) => unknown, timeoutMs = 5_000): Promise<R> {
    const { clock } = this.host;
    return new Promise<R>((resolve, reject) => {
      let done = false;
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        clock.clearTimeout(timer);
        return true;
      };
      const timer = clock.setTimeout(() => {
        if (finish()) reject(new GoatError('GOAT_ERR_ASK_TIMEOUT', `no reply from ${this.path} within ${timeoutMs} ms`, { temporary: true, details: { path: this.path, timeoutMs } }));
      }, timeoutMs);
      const reply: Reply<R> = (value) => {
        if (finish()) resolve(value);
      };
      this.host.deliver(this.id, make(reply), (reason) => {
        if (finish()) reject(new GoatError('GOAT_ERR_DEAD_LETTER', `message to ${this.path} not delivered: ${reason}`, { details: { path: this.path, reason } }));
      });
    });
  }
}
