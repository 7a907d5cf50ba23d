/**
 * What `run`/`scale`/`update --wait` judge (issue 10): the current
 * generation of each slot, and the rollout of the service's current version
 * only (the manager records a rollout as it takes the change of a task
 * spec, so a status of an earlier version is the last rollout's). Pure.
 */
import { completesUnder, type TaskRecord } from '../model/index.js';

/** The service as `--wait` reads it from the API. */
export interface ConvergeService {
  version: number;
  /** Its restart policy: a slot whose task completed under `no` / `on-failure` is done. */
  spec?: { task: { restart?: { policy?: string } } };
  update?: { state: string; message: string; version?: number } | null;
}

/** Where a service stands for `--wait`. */
export interface Convergence {
  /** Slots whose current task runs. */
  running: number;
  /** Slots whose current task completed under `no` / `on-failure`: done, not waited for. */
  completed: number;
  /** Why the rest wait (a task's error, the rollout), if known. */
  waiting?: string;
  /** The rollout of the current version paused: `--wait` fails at once with this. */
  paused?: string;
  /** Every slot runs (or completed for good) and no rollout of the current version is in progress. */
  done: boolean;
}

/** The current (highest generation) task of each slot below `replicas`. */
export function currentTasks(tasks: readonly TaskRecord[], replicas: number): TaskRecord[] {
  const bySlot = new Map<number, TaskRecord>();
  for (const t of tasks) {
    if (t.slot >= replicas || t.desired !== 'running') continue;
    const seen = bySlot.get(t.slot);
    if (!seen || t.generation > seen.generation) bySlot.set(t.slot, t);
  }
  return [...bySlot.values()].sort((a, b) => a.slot - b.slot);
}

/**
 * Judges `svc` from its tasks. Failed tasks of earlier generations are
 * history; a slot whose task completed under `no` / `on-failure` is done; a rollout status of an earlier version (a paused one resumes with
 * the next change) is not this change's.
 */
export function convergence(svc: ConvergeService, all: readonly TaskRecord[], replicas: number): Convergence {
  const tasks = currentTasks(all, replicas);
  const running = tasks.filter((t) => t.state === 'running').length;
  const completed = completesUnder(svc.spec?.task.restart?.policy) ? tasks.filter((t) => t.state === 'completed').length : 0;
  const update = svc.update && (svc.update.version === undefined || svc.update.version === svc.version) ? svc.update : null;
  const rolling = update && (update.state === 'updating' || update.state === 'rolling_back') ? update.message : undefined;
  const paused = update?.state === 'paused' ? update.message : undefined;
  const waiting = paused ?? tasks.find((t) => t.state !== 'running' && t.error)?.error?.message ?? rolling;
  return { running, completed, ...(waiting ? { waiting } : {}), ...(paused ? { paused } : {}), done: running + completed === replicas && !rolling };
}
