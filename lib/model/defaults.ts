/** Every default of task and service specs, in one place (the failure contract's numbers). */

/** Defaults applied by {@link normalizeTaskSpec}. */
export const TASK_DEFAULTS = Object.freeze({
  /** Keep replicas running: restart whatever the exit (Swarm's `any`, Kubernetes' `Always`). */
  restartPolicy: 'always' as const,
  /** Restart budget per task: 5 restarts in 5 minutes, then `failed` and re-placed. */
  maxRestarts: 5,
  windowMs: 300_000,
  /** 1 s ×2 → 60 s, ±20 % jitter, reset after 60 s running. */
  backoff: Object.freeze({ initialMs: 1_000, factor: 2, maxMs: 60_000, jitter: 0.2, resetAfterMs: 60_000 }),
  /** Health checks: every 5 s, 2 s timeout, 3 failures in a row make a crash, no start period. */
  health: Object.freeze({ intervalMs: 5_000, timeoutMs: 2_000, retries: 3, startPeriodMs: 0 }),
  /** Grace between the stop signal and a kill, in ms. */
  stopTimeoutMs: 10_000,
  /** Replicas of a service. */
  replicas: 1,
});
