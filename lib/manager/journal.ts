/**
 * Writes to the store with their events: a transaction whose events are
 * appended in one `appendEvents` at its end (one insert batch and one trim
 * of the log instead of one per event), heard by subscribers only once it
 * committed. Every manager actor writes through it; it holds no cluster
 * state of its own (the store does), only the events of the transaction in
 * progress and who listens.
 */
import type { ClusterEvent } from '../model/index.js';
import type { Store } from '../store/index.js';
import type { Clock } from '../supervision/index.js';

/** An event as a decision produces it (no `at`, no `seq` yet). */
export interface PendingEvent {
  type: string;
  subject: string;
  data: Record<string, unknown>;
}

/** The store, its transactions and the event log's subscribers. */
export class Journal {
  readonly #listeners = new Set<(e: ClusterEvent) => void>();
  #txEvents: Omit<ClusterEvent, 'seq'>[] = [];
  #txDepth = 0;
  /** Events appended but not yet committed (a store that commits later): heard once it has. */
  #unheard: { events: ClusterEvent[]; ready: boolean }[] = [];

  constructor(
    /** The store (the `store` actor's cell). */
    readonly store: Store,
    /** Where event times come from. */
    readonly clock: Clock,
  ) {}

  /** Subscribes to the event log as it grows; returns the function that unsubscribes. */
  subscribe(listener: (e: ClusterEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Runs `fn` in one store transaction; the events it records are appended at its end and heard after the commit. */
  tx<T>(fn: () => T): T {
    const outer = this.#txDepth === 0;
    const mark = this.#txEvents.length;
    let appended: ClusterEvent[] = [];
    let result: T;
    this.#txDepth++;
    try {
      result = this.store.transaction(() => {
        const r = fn();
        if (outer && this.#txEvents.length > 0) appended = this.store.appendEvents(this.#txEvents);
        return r;
      });
    } catch (err) {
      this.#txEvents.length = mark;
      throw err;
    } finally {
      this.#txDepth--;
    }
    if (outer) {
      this.#txEvents = [];
      this.#hear(appended);
    }
    return result;
  }

  /** Records an event: with the transaction in progress, or on its own. */
  event(type: string, subject: string, data: Record<string, unknown>): void {
    const e = { at: this.clock.now(), type, subject, data };
    if (this.#txDepth > 0) {
      this.#txEvents.push(e);
      return;
    }
    this.#hear(this.store.appendEvents([e]));
  }

  /** Tells the listeners, in log order, once the store has committed the events (at once when nothing is pending). */
  #hear(events: ClusterEvent[]): void {
    if (events.length === 0) return;
    if (!this.store.pending && this.#unheard.length === 0) {
      for (const event of events) this.#tell(event);
      return;
    }
    // Groups commit in order, and each group's waiters are answered in order: heard in log order.
    const batch = { events, ready: false };
    this.#unheard.push(batch);
    const drain = (): void => {
      batch.ready = true;
      while (this.#unheard[0]?.ready) for (const event of this.#unheard.shift()!.events) this.#tell(event);
    };
    // A refused commit: those events never happened, and nobody hears them.
    this.store.committed().then(drain, () => {
      this.#unheard = this.#unheard.filter((b) => b !== batch);
      drain();
    });
  }

  #tell(event: ClusterEvent): void {
    for (const l of this.#listeners) l(event);
  }

  /** Records decided events (see {@link PendingEvent}). */
  events(events: readonly PendingEvent[]): void {
    for (const e of events) this.event(e.type, e.subject, e.data);
  }
}
