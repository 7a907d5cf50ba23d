/**
 * Time, injected (xstate's `SimulatedClock`): supervisors, backoff, budgets
 * and asks read the time and set timers only through a {@link Clock}, so
 * tests advance a simulated clock instead of sleeping.
 */

/** An opaque timer handle. */
export type TimerId = unknown;

/** Where time comes from. */
export interface Clock {
  /** Milliseconds since some fixed origin. */
  now(): number;
  /**
   * Calls `fn` once after `ms` milliseconds: never before `now()` has reached
   * the time it was set plus `ms`, so that a caller that set a timer for a
   * time `at` finds `now() >= at` when it fires.
   */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a timer; unknown or fired ids are ignored. */
  clearTimeout(id: TimerId): void;
}

/** The host timers a {@link wallClock} runs on (Node's by default; a test passes its own). */
export interface HostTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's own timers and `Date.now()`, as they are: a timer may fire before its time (see {@link wallClock}). */
export const hostTimers: HostTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A {@link wallClock} timer: its host timer now, and whether it keeps the process alive. */
interface WallTimer { handle: unknown; ref: boolean; unref(): WallTimer }

/**
 * A clock on wall time whose timers never fire early. Node's may, against
 * `Date.now()`: a timer counts from the event loop's cached time, which is
 * behind by however long the current callback has run, so a timer set for
 * `at = Date.now() + ms` fires before `at` by that much (about 1 in 50 short
 * timers here; more under load). A caller that keeps `at` and acts only
 * once `now() >= at` then waits for a timer that has already fired: a
 * rollout stalled for good after a manager restart this way. Such a timer
 * is set again for what remains, unless the wall clock stepped back by more
 * than `ms` (then it fires: waiting on would stretch it by the step).
 * Timers can be `unref()`ed, as Node's.
 */
export function wallClock(host: HostTimers = hostTimers): Clock {
  return {
    now: () => host.now(),
    setTimeout: (fn, ms) => {
      const delay = Math.max(0, ms);
      const due = host.now() + delay;
      const timer: WallTimer = {
        handle: null, ref: true,
        unref() {
          timer.ref = false;
          (timer.handle as { unref?: () => void } | null)?.unref?.();
          return timer;
        },
      };
      const arm = (inMs: number): void => {
        timer.handle = host.setTimeout(() => {
          const left = due - host.now();
          if (left > 0 && left <= delay) arm(left);
          else fn();
        }, inMs);
        if (!timer.ref) (timer.handle as { unref?: () => void } | null)?.unref?.();
      };
      arm(delay);
      return timer;
    },
    clearTimeout: (id) => {
      if (id && typeof id === 'object' && 'handle' in id) host.clearTimeout((id as WallTimer).handle);
    },
  };
}

/** The real clock: `Date.now()` and Node's timers, which never fire early ({@link wallClock}). */
export const systemClock: Clock = wallClock();

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** Lets pending promise callbacks and `setImmediate` callbacks (nact's mailboxes) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface SimTimer { id: number; at: number; fn: () => void }

/** A clock that moves only when told to: `await clock.advance(ms)`. */
export class SimulatedClock implements Clock {
  #now: number;
  #timers: SimTimer[] = [];
  #nextId = 1;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const timer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn };
    this.#timers.push(timer);
    return timer.id;
  }

  clearTimeout(id: TimerId): void {
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.length;
  }

  /** When the earliest pending timer fires, or `undefined`. */
  get nextAt(): number | undefined {
    return this.#timers.reduce<number | undefined>((min, t) => (min === undefined || t.at < min ? t.at : min), undefined);
  }

  /**
   * Moves time forward by `ms`, firing due timers in time order (ties in the
   * order they were set) and letting the work they cause settle after each.
   */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await settle();
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.fn();
      await settle();
    }
    this.#now = until;
    await settle();
  }
}
