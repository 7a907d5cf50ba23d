/** Restart budgets as a sliding window of timestamps (OTP's restart intensity). */
import type { RestartBudget } from './types.js';

/** The timestamps still inside the window that ends at `now`. */
export function inWindow(history: readonly number[], now: number, windowMs: number): number[] {
  const since = now - windowMs;
  return history.filter((t) => t > since);
}

/** How many timestamps are inside the window that ends at `now` (no allocation). */
export function countInWindow(history: readonly number[], now: number, windowMs: number): number {
  const since = now - windowMs;
  let n = 0;
  for (const t of history) if (t > since) n++;
  return n;
}

/** True when one more restart at `now` would exceed the budget. */
export function wouldExceed(history: readonly number[], now: number, budget: RestartBudget): boolean {
  return countInWindow(history, now, budget.windowMs) + 1 > budget.maxRestarts;
}

/** Records a restart at `now` in `history`, in place, dropping what left the window. */
export function recordIn(history: number[], now: number, windowMs: number): void {
  const since = now - windowMs;
  let drop = 0;
  while (drop < history.length && history[drop]! <= since) drop++;
  if (drop > 0) history.splice(0, drop);
  history.push(now);
}
