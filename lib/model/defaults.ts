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

/** Defaults of a rollout (`update`) and of a rollback (`rollback`): Swarm's `update_config` defaults, with a 5 s monitor. */
const ROLLOUT_DEFAULTS = Object.freeze({
  /** Slots replaced at a time. */
  parallelism: 1,
  /** Wait between one slot done and the next started, in ms. */
  delayMs: 0,
  /** Stop the old task before starting the new one (`stop-first`), or start the new one first (`start-first`). */
  order: 'stop-first' as const,
  /** A new task counts as updated once running (and healthy) this long, in ms; a failure before then counts against the rollout. */
  monitorMs: 5_000,
  /** The share of new tasks that may fail before `failureAction` (0: the first failure). */
  maxFailureRatio: 0,
  /** What a failing rollout does: `pause`, `rollback` or `continue`. */
  failureAction: 'pause' as const,
});

/** Defaults applied by `normalizeServiceSpec` (the service-level supervision of slots and rollouts). */
export const SERVICE_DEFAULTS = Object.freeze({
  /**
   * A slot whose task failed is re-placed after a backoff: 1 s ×2 → 5 min,
   * ±20 % jitter, reset after 10 min running; more than 5 failures within
   * 1 h and the service is `degraded` (an `alert`), the slot still re-placed every `maxMs`.
   */
  reschedule: Object.freeze({ initialMs: 1_000, factor: 2, maxMs: 300_000, jitter: 0.2, resetAfterMs: 600_000, maxAttempts: 5, windowMs: 3_600_000 }),
  update: ROLLOUT_DEFAULTS,
  rollback: ROLLOUT_DEFAULTS,
  /** Terminal tasks kept per slot (Swarm's task history limit); older ones are deleted. */
  taskHistory: 5,
});
