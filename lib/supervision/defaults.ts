/** Every default of the supervision library, in one place (OTP's `?default_flags`). */
import type { BackoffOptions, ChildOptions, SupervisorFlags } from './types.js';

/** Default backoff: 100 ms, doubling, capped at 10 s, ±20 % jitter, reset after 10 s running. */
export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  initialMs: 100,
  factor: 2,
  maxMs: 10_000,
  jitter: 0.2,
  resetAfterMs: 10_000,
});

/** The defaults of the supervision library. */
export const DEFAULTS: Readonly<{
  supervisor: Readonly<SupervisorFlags>;
  child: Readonly<Omit<ChildOptions, 'id'>>;
}> = Object.freeze({
  supervisor: Object.freeze({ strategy: 'one_for_one', maxRestarts: 5, windowMs: 10_000 }),
  child: Object.freeze({
    restart: 'permanent',
    shutdownMs: 5_000,
    backoff: DEFAULT_BACKOFF,
    budget: null,
    stashLimit: 1_000,
  }),
});
