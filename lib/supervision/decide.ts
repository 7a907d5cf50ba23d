/**
 * The restart decision, a pure function (OTP's `do_restart/3`, Nomad's
 * `RestartTracker.GetState()`): given why a child exited, its spec, its
 * history and the time, say what to do, after how long, and why.
 */
import { backoffDelay, nextAttempt, type Random } from './backoff.js';
import { countInWindow, wouldExceed } from './budget.js';
import type { ChildOptions, ExitReason, SupervisorFlags } from './types.js';

/**
 * - `restart`: start the child again after `delayMs`.
 * - `ignore`: leave it stopped; the exit was expected for its restart type.
 * - `give_up`: the child's own budget is spent; mark it `failed`, do not escalate.
 * - `escalate`: the supervisor's budget is spent; stop everything and fail upward.
 */
export type RestartAction = 'restart' | 'ignore' | 'give_up' | 'escalate';

/** What {@link decide} returns. */
export interface RestartDecision {
  action: RestartAction;
  /** Wait this long before restarting (0 unless `action` is `restart`). */
  delayMs: number;
  /** A sentence for humans: events and the inspector show it. */
  why: string;
  /** The backoff attempt (0-based) this restart uses; afterwards `consecutive` is `attempt + 1`. */
  attempt: number;
}

/** The restart history the decision reads; the caller keeps it. */
export interface RestartHistory {
  /** When the supervisor restarted any child (ms timestamps). */
  supervisorRestarts: readonly number[];
  /** When this child was restarted (ms timestamps). */
  childRestarts: readonly number[];
  /** Restarts of this child since its last stable run (0 if none): the backoff exponent. */
  consecutive: number;
  /** When the child last started (ms). */
  startedAt: number;
}

/** Decides what to do about a child that exited. Touches nothing; `random` drives the jitter. */
export function decide(
  reason: ExitReason,
  child: ChildOptions,
  history: RestartHistory,
  now: number,
  flags: SupervisorFlags,
  random: Random,
): RestartDecision {
  const abnormal = reason.type === 'error';
  switch (child.restart) {
    case 'temporary':
      return { action: 'ignore', delayMs: 0, attempt: history.consecutive, why: 'temporary child: never restarted' };
    case 'transient':
      if (!abnormal) {
        return { action: 'ignore', delayMs: 0, attempt: history.consecutive, why: `transient child exited (${reason.type}): not restarted` };
      }
      break;
    case 'permanent':
      break;
    default: {
      const never: never = child.restart;
      throw new Error(`unknown restart type ${String(never)}`);
    }
  }
  if (child.budget && wouldExceed(history.childRestarts, now, child.budget)) {
    const n = countInWindow(history.childRestarts, now, child.budget.windowMs);
    return { action: 'give_up', delayMs: 0, attempt: history.consecutive, why: `child budget spent: ${n} restarts within ${child.budget.windowMs} ms (max ${child.budget.maxRestarts})` };
  }
  if (wouldExceed(history.supervisorRestarts, now, flags)) {
    const n = countInWindow(history.supervisorRestarts, now, flags.windowMs);
    return { action: 'escalate', delayMs: 0, attempt: history.consecutive, why: `supervisor budget spent: ${n} restarts within ${flags.windowMs} ms (max ${flags.maxRestarts})` };
  }
  const ranFor = now - history.startedAt;
  const attempt = nextAttempt(history.consecutive, ranFor, child.backoff);
  const delayMs = backoffDelay(attempt, child.backoff, random);
  const what = abnormal ? 'crashed' : `exited (${reason.type})`;
  return { action: 'restart', delayMs, attempt, why: `${child.restart} child ${what} after ${ranFor} ms: restart #${attempt + 1} in ${delayMs} ms` };
}
