/**
 * The vocabulary of supervision: exit reasons, restart types, strategies and
 * the options of children and supervisors. Plain data, no behaviour.
 */

/** A serializable description of an error: what events and snapshots carry. */
export interface ErrorInfo {
  /** The error's class name (`Error`, `GoatError`, `TypeError` …). */
  name: string;
  /** Its message. */
  message: string;
  /** A stable `GOAT_ERR_*` code when the error has one. */
  code?: string;
}

/**
 * Why a child stopped running, in OTP's terms.
 * - `normal`: it finished on purpose (an actor called `ctx.exit()`, a container exited 0).
 * - `shutdown`: its supervisor stopped it.
 * - `error`: it crashed (an exception, a non-zero exit, a failed health check).
 */
export type ExitReason =
  | { type: 'normal' }
  | { type: 'shutdown' }
  | { type: 'error'; error: ErrorInfo };

/**
 * When a child is restarted (OTP's restart types).
 * - `permanent`: always restarted, whatever the exit reason.
 * - `transient`: restarted only after an abnormal exit (`error`).
 * - `temporary`: never restarted; removed from the supervisor when it exits.
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/**
 * Which children a supervisor restarts when one of them must restart.
 * - `one_for_one`: only that child.
 * - `one_for_all`: all children (the others are stopped first, in reverse start order).
 * - `rest_for_one`: that child and every child started after it.
 */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/** Exponential backoff between restarts: `initialMs × factor^attempt`, capped, with jitter. */
export interface BackoffOptions {
  /** Delay before the first restart, in ms. `0` restarts at once. @default 100 */
  initialMs: number;
  /** Growth factor per consecutive restart. @default 2 */
  factor: number;
  /** Upper bound of any delay, jitter included, in ms. @default 10000 */
  maxMs: number;
  /** Random spread as a fraction: `0.2` draws each delay from ±20 % of its base. @default 0.2 */
  jitter: number;
  /** A child that ran at least this long before crashing starts again from `initialMs`. @default 10000 */
  resetAfterMs: number;
}

/** A restart budget: more than `maxRestarts` restarts within `windowMs` is too many. */
export interface RestartBudget {
  /** Restarts allowed inside the window. `0` allows none. */
  maxRestarts: number;
  /** Length of the sliding window, in ms. */
  windowMs: number;
}

/** What a child spec says about restarting and stopping, validated and with defaults applied. */
export interface ChildOptions {
  /** Unique id among its siblings; also the last segment of its path. */
  id: string;
  /** When to restart it. @default 'permanent' */
  restart: RestartType;
  /** How long a graceful stop may take before the child is killed, in ms; `0` kills at once. @default 5000 */
  shutdownMs: number;
  /** Delays between consecutive restarts of this child. */
  backoff: BackoffOptions;
  /**
   * The child's own budget. Past it the child alone is given up (`failed`),
   * without escalating; `null` leaves only the supervisor's budget. @default null
   */
  budget: RestartBudget | null;
  /** Messages kept while the child waits to restart; more become dead letters. @default 1000 */
  stashLimit: number;
}

/** A supervisor's own flags, validated and with defaults applied. */
export interface SupervisorFlags {
  /** @default 'one_for_one' */
  strategy: Strategy;
  /** More than this many restarts within `windowMs` and the supervisor escalates. @default 5 */
  maxRestarts: number;
  /** @default 10000 */
  windowMs: number;
}

/** Turns anything thrown into an {@link ErrorInfo}. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { name: err.name, message: err.message, code } : { name: err.name, message: err.message };
  }
  return { name: 'Error', message: typeof err === 'string' ? err : JSON.stringify(err) ?? String(err) };
}
