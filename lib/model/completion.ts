/**
 * A task that completes (exits 0) under restart policy `no` or `on-failure`
 * has done its slot's work, as in Swarm: the slot is not re-placed, it is no
 * failure (no backoff, no alert, no `degraded`), and `--wait` counts it as
 * converged. Under `always` / `unless-stopped` a task does not complete: its
 * worker restarts it.
 */
import type { RestartPolicy } from './spec.js';
import type { TaskRecord } from './records.js';

const FINISHING: ReadonlySet<RestartPolicy> = new Set(['no', 'on-failure']);

/** Whether a task of this policy that exits 0 is finished for good. */
export function completesUnder(policy: RestartPolicy | string | undefined): boolean {
  return FINISHING.has(policy as RestartPolicy);
}

/** Whether `t` completed and its slot's work is done (still wanted running: not stopped on purpose). */
export function completedForGood(t: Pick<TaskRecord, 'state' | 'desired' | 'spec'>): boolean {
  return t.state === 'completed' && t.desired === 'running' && completesUnder(t.spec.restart.policy);
}

/** What `ps` and the tree say of such a slot. */
export function completedWhy(policy: string): string {
  return `completed (restart policy ${policy})`;
}
