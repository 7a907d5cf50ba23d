/**
 * A service's slots as data: its tasks grouped by slot (newest generation
 * first) — the one bookkeeping the replica controller (`reconcileService`),
 * the `services/<name>` actor and the tree share — and the view people see
 * under `services/<name>` in `/v1/tree`, the REPL and the inspector: each
 * slot's current task and, while it waits for its reschedule backoff, when it
 * will be re-placed and why.
 */
import { completedForGood, completedWhy } from './completion.js';
import type { RolloutState, ServiceRecord, ServiceStatus, TaskRecord } from './records.js';
import type { TaskSpec } from './spec.js';
import type { TaskState } from './state.js';

const KEYS = new WeakMap<TaskSpec, string>();

/** A task spec as text, to compare specs (computed once per spec object). */
export function specKey(spec: TaskSpec): string {
  let k = KEYS.get(spec);
  if (k === undefined) KEYS.set(spec, (k = JSON.stringify(spec)));
  return k;
}

/** A service's tasks by slot, each slot's newest generation first, slots in ascending order. */
export function tasksBySlot(tasks: readonly TaskRecord[]): Map<number, TaskRecord[]> {
  const bySlot = new Map<number, TaskRecord[]>();
  for (const t of tasks) {
    const inSlot = bySlot.get(t.slot);
    if (inSlot) inSlot.push(t);
    else bySlot.set(t.slot, [t]);
  }
  for (const inSlot of bySlot.values()) inSlot.sort((a, b) => b.generation - a.generation);
  return new Map([...bySlot.entries()].sort(([a], [b]) => a - b));
}

/** One slot as people see it: its current task (highest generation). */
export interface SlotInfo {
  slot: number;
  taskId: string;
  generation: number;
  state: TaskState;
  desired: 'running' | 'stopped';
  /** The node its current task is placed on, or null while pending. */
  node: string | null;
  /** Pending behind its reschedule backoff: not placed before this time (ms since the epoch). */
  notBefore?: number;
  /** Failures inside the reschedule window (its budget counts them). */
  failures: number;
  /** Past its reschedule budget: the service is degraded because of it. */
  escalated: boolean;
  /** Its current task runs another spec than the service's (a rollout has not reached it yet). */
  outdated: boolean;
  /** Why it is not running, as its task says (the countdown of `re-placing in N s` as of when the task was written; see {@link waitingWhy}). */
  why?: string;
}

/** A service's status, rollout and slots: what the tree shows under `services/<name>`. */
export interface ServiceInfo {
  /** `deleted` while a deleted service's tasks are being stopped. */
  status: ServiceStatus['state'] | 'deleted';
  /** Why it is degraded. */
  reason?: string;
  replicas: number;
  /** The last rollout, if any. */
  rollout: { state: RolloutState; message: string; version: number } | null;
  slots: SlotInfo[];
}

/** Each slot's current task, with the generations kept before it. */
export function slotInfos(tasks: readonly TaskRecord[], service?: ServiceRecord): SlotInfo[] {
  const wanted = service ? specKey(service.spec.task) : undefined;
  const out: SlotInfo[] = [];
  for (const [slot, [t]] of tasksBySlot(tasks)) {
    if (!t) continue;
    const why = t.error?.message ?? t.failure?.message ?? (t.state === 'failed' ? t.lastExit?.message : undefined)
      ?? (completedForGood(t) ? completedWhy(t.spec.restart.policy) : undefined);
    out.push({
      slot, taskId: t.id, generation: t.generation, state: t.state, desired: t.desired, node: t.node,
      ...(t.state === 'pending' && t.notBefore !== undefined ? { notBefore: t.notBefore } : {}),
      failures: t.supervision?.failures.length ?? 0,
      escalated: t.supervision?.escalated ?? false,
      outdated: wanted !== undefined && specKey(t.spec) !== wanted,
      ...(why ? { why } : {}),
    });
  }
  return out;
}

/** The tree's view of a service (undefined: deleted) and its tasks. */
export function serviceInfo(service: ServiceRecord | undefined, tasks: readonly TaskRecord[]): ServiceInfo {
  const slots = slotInfos(tasks, service);
  if (!service) return { status: 'deleted', replicas: 0, rollout: null, slots };
  const status: Pick<ServiceStatus, 'state' | 'reason'> = service.status ?? { state: 'running' };
  const u = service.update;
  return {
    status: status.state,
    ...(status.reason ? { reason: status.reason } : {}),
    replicas: service.spec.replicas,
    rollout: u ? { state: u.state, message: u.message, version: u.version } : null,
    slots,
  };
}

/**
 * Why a slot waits, its countdown counted at `now`: a pending task behind
 * its backoff says `re-placing in N s after …` (N from `notBefore`); any other
 * `why` is as it is. What `ps`'s WHY column and the inspector show.
 */
export function waitingWhy(why: string, notBefore: number | undefined, now: number): string {
  if (notBefore === undefined) return why;
  const s = Math.max(0, Math.ceil((notBefore - now) / 1000));
  return why.replace(/^re-placing in \d+ s/, `re-placing in ${s} s`);
}
