/** Exponential backoff with jitter: a pure function of the attempt and a random source. */
import type { BackoffOptions } from './types.js';

/** A source of uniform random numbers in [0, 1), like `Math.random`. */
export type Random = () => number;

/** The delay before restart number `attempt` (0-based) without jitter: `initialMs × factor^attempt`, capped at `maxMs`. */
export function baseDelay(attempt: number, b: BackoffOptions): number {
  if (b.initialMs === 0) return 0;
  const growth = Math.pow(b.factor, attempt); // Infinity past ~1000 attempts: then the cap
  return Number.isFinite(growth) ? Math.min(b.maxMs, b.initialMs * growth) : b.maxMs;
}

/**
 * The delay before restart number `attempt` (0-based): the base delay spread
 * by ±`jitter` using `random`, rounded to whole ms, never above `maxMs`.
 */
export function backoffDelay(attempt: number, b: BackoffOptions, random: Random): number {
  const base = baseDelay(attempt, b);
  const spread = 1 + b.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(b.maxMs, Math.round(base * spread)));
}

/**
 * The attempt number (backoff exponent) of the next restart: the number of
 * consecutive restarts so far; a child that ran for at least `resetAfterMs` starts again at 0.
 */
export function nextAttempt(consecutive: number, ranForMs: number, b: BackoffOptions): number {
  return ranForMs >= b.resetAfterMs ? 0 : consecutive;
}
