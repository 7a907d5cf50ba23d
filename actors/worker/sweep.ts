/**
 * On boot, before any task actor starts: what the runtime has for this
 * cluster and node (containers by label, processes by their records) is
 * compared with the worker's record. An instance the record does not explain
 * — another task, or an older generation of a task it holds — is stopped and
 * removed, so no program runs unsupervised and no slot runs twice. What the
 * record lost comes back through the manager's re-sent `assign` (issue 11).
 */
import type { Logger } from '../../lib/log.js';
import type { Runtime } from '../../lib/runtime/index.js';
import type { Assignment } from '../../lib/store/worker-state.js';

/** What a sweep did. */
export interface SweepResult {
  /** `taskId@generation` of every instance removed. */
  removed: string[];
  /** Why the sweep could not look (the engine does not answer); nothing was touched then. */
  skipped?: string;
}

/** Stops and removes what `assignments` does not explain. */
export async function sweepUnexplained(runtime: Runtime, assignments: Assignment[], log: Logger): Promise<SweepResult> {
  let found;
  try {
    found = await runtime.list();
  } catch (err) {
    return { removed: [], skipped: err instanceof Error ? err.message : String(err) };
  }
  const removed: string[] = [];
  for (const inst of found) {
    if (assignments.some((a) => a.taskId === inst.taskId && a.generation === inst.generation)) continue;
    const key = `${inst.taskId}@${inst.generation}`;
    try {
      await runtime.remove(inst.taskId, inst.generation);
      removed.push(key);
      log.warn(`task ${key} (${inst.running ? 'running' : inst.state}) is not in this worker's record: stopped and removed; the manager re-assigns what should run`);
    } catch (err) {
      log.warn(`task ${key} is not in this worker's record, and removing it failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { removed };
}
