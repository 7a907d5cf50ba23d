/**
 * Supervision events: every start, crash, scheduled restart, restart, spent
 * budget, escalation, stop and undeliverable message, with a sequence number.
 * One bus per tree; the REPL and the inspector read exactly these.
 */
import type { Clock } from './clock.js';
import type { ErrorInfo } from './types.js';

/** Why a message could not be delivered. */
export type DeadLetterReason = 'stopped' | 'failed' | 'stash_overflow' | 'no_such_child' | 'not_an_actor' | 'rejected';

/** Why a child stopped for good (or until its supervisor restarts it). */
export type StopReason = 'normal' | 'shutdown' | 'killed' | 'failed';

/** The events a supervision tree emits, by `type`. */
export type SupervisorEventBody =
  | { type: 'child_started'; path: string }
  | { type: 'child_crashed'; path: string; error: ErrorInfo }
  | { type: 'restart_scheduled'; path: string; delayMs: number; restartAt: number; attempt: number; why: string }
  | { type: 'child_restarted'; path: string; attempt: number }
  | { type: 'budget_exceeded'; path: string; scope: 'child' | 'supervisor'; why: string }
  | { type: 'escalated'; path: string; to: string | null; final: boolean; error: ErrorInfo }
  | { type: 'child_stopped'; path: string; reason: StopReason }
  | { type: 'dead_letter'; path: string; reason: DeadLetterReason; message: unknown };

/** An event with its sequence number and time. */
export type SupervisorEvent = SupervisorEventBody & { seq: number; at: number };

/** All event types, for filters and completion. */
export const EVENT_TYPES = [
  'child_started', 'child_crashed', 'restart_scheduled', 'child_restarted',
  'budget_exceeded', 'escalated', 'child_stopped', 'dead_letter',
] as const satisfies readonly SupervisorEvent['type'][];

/** A function that receives events. */
export type EventListener = (event: SupervisorEvent) => void;

/** Numbers events and hands them to listeners; a throwing listener never unwinds the emitter. */
export class EventBus {
  #seq = 0;
  #listeners = new Set<EventListener>();

  constructor(private readonly clock: Clock) {}

  /** The sequence number of the latest event (0 before any). */
  get seq(): number {
    return this.#seq;
  }

  /** Emits an event to every listener and returns it. */
  emit(body: SupervisorEventBody): SupervisorEvent {
    // Bodies are fresh literals from the emitters: number them in place, no copy.
    const event = body as SupervisorEvent;
    event.seq = ++this.#seq;
    event.at = this.clock.now();
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        // Like xstate's reportUnhandledError: surface it later, never inside the supervisor.
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
    return event;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
