/**
 * When a (re-sent) `assign` is applied: at most once per (task, generation)
 * while the worker's record holds it, never after the task was stopped on
 * purpose — but again when the record lost it (a worker.json edited or
 * restored from an older copy): then the manager's re-sent assign is the only
 * way back to what should run (issue 11).
 */
import type { WorkerState } from '../../lib/store/worker-state.js';

/** The key remembered when a task is stopped on purpose. */
export function stoppedKey(taskId: string, generation: number): string {
  return `stopped:${taskId}@${generation}`;
}

/** True when an assign of `taskId` at `generation` (with these command keys) should be applied. */
export function assignWanted(state: Pick<WorkerState, 'assignments' | 'wasApplied'>, taskId: string, generation: number, keys: string[]): boolean {
  if (state.assignments().some((a) => a.taskId === taskId && a.generation >= generation)) return false; // held already, or a newer one
  // Stopped on purpose: a late re-send must not revive it. Otherwise — new, or applied once and then lost
  // from the record although nobody stopped it — it is applied.
  return !state.wasApplied(stoppedKey(taskId, generation)) || keys.length === 0;
}
