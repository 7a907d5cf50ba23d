/**
 * Rolling updates (SwarmKit's `orchestrator/update`, Nomad's `update`):
 * a pure step from what the slots look like now to what the rollout does
 * next. Level-triggered: every input is read from the task records and the
 * durable {@link RolloutStatus}, so a manager restarted mid-rollout resumes
 * it without restarting a slot already updated.
 *
 * Policy: at most `parallelism` slots are in flight (a new task not yet
 * running — and healthy, when it has a health check — for `monitorMs`); the next slot starts `delayMs` after the last
 * one was done. A new task of this rollout that restarts or fails counts as
 * a failure; once failures / started > `maxFailureRatio`, `failureAction`
 * applies: `pause` (the rollout stops, saying why), `rollback` (the previous
 * spec rolls out with the `rollback` settings) or `continue`.
 */
import type { RolloutState, RolloutStatus } from './records.js';
import type { RolloutSpec } from './service.js';

/** What the slots of a service look like to a rollout. */
export interface RolloutObservation {
  /** The service version (the spec the slots should run). */
  version: number;
  /** Slots whose live task runs another spec, in slot order. */
  outdated: number[];
  /** New tasks of this rollout not yet updated (not yet running, and healthy when they have a health check, for `monitorMs`). */
  inflight: number;
  /** When an in-flight running task will have run `monitorMs` (the earliest), if any. */
  monitorEndsAt?: number;
  /** When the last slot of this rollout was done (running `monitorMs`), if any. */
  lastDoneAt?: number;
  /** New tasks of this rollout created so far. */
  started: number;
  /** Those among them that restarted or failed, with why (the most recent first). */
  failures: { taskId: string; why: string }[];
  /** Whether there is a previous spec to roll back to. */
  canRollBack: boolean;
}

/** Something the caller must do or say. */
export type RolloutEffect =
  | { type: 'event'; event: 'update.started' | 'update.paused' | 'update.completed' | 'update.rolled_back'; message: string }
  /** Put the previous spec back (and roll it out with `rollback` settings); the manager records `update.rollback` as it does. */
  | { type: 'rollback'; message: string };

/** What {@link stepRollout} decides. */
export interface RolloutStep {
  /** The rollout's new status (the same object when nothing changed). */
  status: RolloutStatus | null;
  /** Outdated slots to replace now. */
  replace: number[];
  effects: RolloutEffect[];
  /** Step again at this time (a monitor period or a delay ends). */
  wakeAt?: number;
}

const ACTIVE: ReadonlySet<RolloutState> = new Set(['updating', 'rolling_back']);

/** True while a rollout is replacing slots. */
export function isRolling(status: RolloutStatus | null | undefined): boolean {
  return !!status && ACTIVE.has(status.state);
}

/**
 * One step of the rollout of `obs.version`. `spec` is the `update` block, or
 * the `rollback` block while rolling back.
 */
export function stepRollout(status: RolloutStatus | null, obs: RolloutObservation, spec: RolloutSpec, now: number): RolloutStep {
  const effects: RolloutEffect[] = [];
  let current = status;
  if (!current || current.version !== obs.version) {
    // A new spec version: nothing to roll out (a replica change), or a new rollout (a paused one resumes this way).
    if (obs.outdated.length === 0) return { status, replace: [], effects };
    current = { state: 'updating', message: 'update in progress', version: obs.version, startedAt: now };
    effects.push({ type: 'event', event: 'update.started', message: current.message });
  }
  if (!ACTIVE.has(current.state)) {
    // Paused: leave the outdated slots as they are. Completed (a straggler): replace it.
    return { status: current, replace: current.state === 'paused' ? [] : obs.outdated, effects };
  }
  const rollingBack = current.state === 'rolling_back';
  const failing = obs.failures.length > 0 && obs.failures.length / Math.max(1, obs.started) > spec.maxFailureRatio;
  if (failing && spec.failureAction !== 'continue') {
    const first = obs.failures[0]!;
    const why = `${obs.failures.length} of ${obs.started} new task${obs.started === 1 ? '' : 's'} failed (max ratio ${spec.maxFailureRatio}); task ${first.taskId}: ${first.why}`;
    if (spec.failureAction === 'rollback' && !rollingBack && obs.canRollBack) {
      const message = `rolling back: ${why}`;
      // The manager puts the previous spec back and records `update.rollback` as it does (one event, as for a rollback asked for).
      effects.push({ type: 'rollback', message });
      return { status: { ...current, state: 'rolling_back', message }, replace: [], effects };
    }
    const message = `${rollingBack ? 'rollback' : 'update'} paused: ${why}${spec.failureAction === 'rollback' && !rollingBack ? ' (no previous spec to roll back to)' : ''}`;
    effects.push({ type: 'event', event: 'update.paused', message });
    return { status: { ...current, state: 'paused', message }, replace: [], effects };
  }
  if (obs.outdated.length === 0 && obs.inflight === 0) {
    const message = rollingBack ? 'rollback completed' : 'update completed';
    effects.push({ type: 'event', event: rollingBack ? 'update.rolled_back' : 'update.completed', message });
    return { status: { ...current, state: rollingBack ? 'rolled_back' : 'completed', message, completedAt: now }, replace: [], effects };
  }
  const room = Math.max(0, spec.parallelism - obs.inflight);
  const nextAt = obs.lastDoneAt === undefined ? now : obs.lastDoneAt + spec.delayMs;
  const replace = room > 0 && now >= nextAt ? obs.outdated.slice(0, room) : [];
  const waits = [obs.monitorEndsAt, room > 0 && obs.outdated.length > 0 && nextAt > now ? nextAt : undefined].filter((t): t is number => t !== undefined);
  const step: RolloutStep = { status: current, replace, effects };
  if (waits.length > 0) step.wakeAt = Math.min(...waits);
  return step;
}
