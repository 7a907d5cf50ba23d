/**
 * Reconnect backoff of a worker's link: exponential, capped, with FULL
 * jitter — a delay drawn uniformly from [0, base) where base is the
 * supervision library's `baseDelay` (`initialMs × 2^attempt`, capped at
 * `maxMs`). Full jitter spreads a herd of workers reconnecting to a
 * restarted manager over the whole window instead of a ±20 % band.
 */
import { baseDelay, type BackoffOptions, type Random } from '../lib/supervision/index.js';

/** Reconnect backoff settings. */
export interface ReconnectBackoff {
  /** Base delay of the first retry, in ms. @default 500 */
  initialMs: number;
  /** Cap of every delay, in ms. @default 30000 */
  maxMs: number;
}

/** Defaults of {@link ReconnectBackoff}. */
export const RECONNECT_DEFAULTS: ReconnectBackoff = { initialMs: 500, maxMs: 30_000 };

/** The delay before reconnect attempt `attempt` (0-based): `random() × min(maxMs, initialMs × 2^attempt)`, whole ms, in [0, maxMs]. */
export function reconnectDelay(attempt: number, backoff: ReconnectBackoff, random: Random): number {
  const b: BackoffOptions = { initialMs: backoff.initialMs, maxMs: backoff.maxMs, factor: 2, jitter: 1, resetAfterMs: 0 };
  const base = baseDelay(attempt, b);
  return Math.min(backoff.maxMs, Math.max(0, Math.floor(random() * base)));
}

/** An interval spread by ±`fraction` using `random` (heartbeats: ±10 %). */
export function jittered(ms: number, fraction: number, random: Random): number {
  return Math.max(1, Math.round(ms * (1 + fraction * (2 * random() - 1))));
}
