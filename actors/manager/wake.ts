/**
 * A wake-up an actor sets for a time (`{ at, timer }`): the service
 * controllers' (a monitor period, a rollout delay, a slot's backoff ends)
 * and the scheduler's (a slot's backoff ends). One rule for both: a wake-up
 * whose timer fired is gone, even when the clock reads a little before its
 * time — kept, it stood for a timer that no longer existed, and the actor
 * waited for it for good (issue 10: a rollout stalled after a manager
 * restart). The timer's message names the time it was set for, so the
 * actor knows which one fired.
 */
import type { Clock, TimerId } from '../../lib/supervision/index.js';
import { planted } from '../../lib/sim/planted.js';

/** A pending wake-up: the time it was set for, and its timer. */
export interface Wake {
  at: number;
  timer: TimerId;
}

/** The wake-up still pending at `now`: none once its time has come, or once its timer fired (`fired`: the time a timer's message names). */
export function pendingWake(w: Wake | null, now: number, fired?: number): Wake | null {
  if (w === null || w.at <= now) return null;
  // The simulation's planted bug `trustTimers` keeps a wake-up that fired before its time.
  return fired === w.at && !planted.trustTimers ? null : w;
}

/** A wake-up at `at`, unless `w` is pending as early or earlier (the later one's timer is cleared); `fire` gets `at`. */
export function wakeAt(clock: Clock, w: Wake | null, at: number, now: number, fire: (at: number) => void): Wake {
  if (w !== null && w.at <= at) return w;
  if (w !== null) clock.clearTimeout(w.timer);
  return { at, timer: clock.setTimeout(() => fire(at), Math.max(0, at - now)) };
}
