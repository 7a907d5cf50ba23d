/** A bounded, ordered stash for messages sent to a child while it waits to restart. */

/** A stashed message and what to do if it ends up undeliverable. */
export interface Stashed {
  message: unknown;
  /** Called when the message becomes a dead letter (asks reject at once). */
  onDead?: ((reason: string) => void) | undefined;
}

/** A FIFO with a hard limit; `push` refuses (returns false) when full. */
export class Stash {
  #items: Stashed[] = [];

  constructor(readonly limit: number) {}

  get size(): number {
    return this.#items.length;
  }

  /** Appends unless full; false means the caller must dead-letter it. */
  push(item: Stashed): boolean {
    if (this.#items.length >= this.limit) return false;
    this.#items.push(item);
    return true;
  }

  /**
   * Puts messages that were already in the child's mailbox when it crashed in
   * front of what was stashed since (they were sent first). Returns those that
   * do not fit.
   */
  unshiftAll(items: Stashed[]): Stashed[] {
    const room = Math.max(0, this.limit - this.#items.length);
    this.#items = [...items.slice(0, room), ...this.#items];
    return items.slice(room);
  }

  /** Takes everything out, oldest first. */
  drain(): Stashed[] {
    const items = this.#items;
    this.#items = [];
    return items;
  }
}
