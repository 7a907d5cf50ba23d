/**
 * How many tasks a service should have, and which: the replica controller's
 * pure decision (SwarmKit's `reconcile()`). The scheduler decides where;
 * the worker decides how to run.
 *
 * Policy, per slot `0 … replicas-1`:
 * - no live task → create one (pending) with generation = 1 + the slot's highest so far;
 * - several live tasks → keep the highest generation (the current one), stop the others;
 * - a live task whose spec is not the service's → stop it and create the next generation;
 * and every live task of a slot ≥ replicas, or of a deleted service, is stopped.
 * "Live" means wanted running and not in a terminal state.
 */
import { isTerminal } from './state.js';
import type { ServiceRecord, TaskRecord } from './records.js';
import type { TaskSpec } from './spec.js';

/** What {@link reconcileService} asks for. */
export interface ReconcileResult {
  /** New pending tasks to store. */
  create: TaskRecord[];
  /** Ids of live tasks to stop (set `desired: 'stopped'`). */
  stop: string[];
}

/** True for a task that is wanted running and not finished. */
export function isLive(task: TaskRecord): boolean {
  return task.desired === 'running' && !isTerminal(task.state);
}

/** Decides the tasks of one service. `service` undefined means it was deleted. */
export function reconcileService(
  name: string,
  service: ServiceRecord | undefined,
  tasks: readonly TaskRecord[],
  now: number,
  newId: (service: string, slot: number) => string,
): ReconcileResult {
  const create: TaskRecord[] = [];
  const stop: string[] = [];
  const mine = tasks.filter((t) => t.service === name);
  const live = mine.filter(isLive);
  if (!service) return { create, stop: live.map((t) => t.id) };
  const replicas = service.spec.replicas;
  const specKey = key(service.spec.task);
  for (const t of live) if (t.slot >= replicas) stop.push(t.id);
  for (let slot = 0; slot < replicas; slot++) {
    const inSlot = mine.filter((t) => t.slot === slot);
    const current = inSlot.filter(isLive).sort((a, b) => b.generation - a.generation);
    const [keep, ...extra] = current;
    for (const t of extra) stop.push(t.id);
    if (keep && key(keep.spec) === specKey) continue;
    if (keep) stop.push(keep.id);
    const generation = 1 + inSlot.reduce((max, t) => Math.max(max, t.generation), 0);
    create.push({
      id: newId(name, slot), service: name, slot, generation, node: null, state: 'pending', desired: 'running',
      restarts: 0, lastExit: null, failure: null, error: null, spec: service.spec.task, createdAt: now, updatedAt: now,
    });
  }
  return { create, stop };
}

function key(spec: TaskSpec): string {
  return JSON.stringify(spec);
}
