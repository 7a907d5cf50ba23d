/**
 * A service's replica controller as a pure step: from the service (or its
 * absence: deleted) and its tasks, what to write and whom to tell. The
 * `services/<name>` actor runs it on every `reconcile` and keeps the slot
 * view it returns as its state.
 *
 * Seam for cluster-level slot supervision (reschedule backoff per slot,
 * rolling updates): the state is explicit — slot → current task, plus the
 * history of generations — and this step is where a per-slot policy decides
 * whether a slot's next generation is created now or later.
 */
import { isTerminal, reconcileService, slotInfos, type SlotInfo, type RolloutStatus, type ServiceRecord, type ServiceStatus, type TaskRecord } from '../model/index.js';
import type { Random } from '../supervision/index.js';
import type { PendingEvent } from './journal.js';

/** A controller's state: its service, its version and its slots. */
export interface ServiceState {
  name: string;
  /** The service's version at the last step; null once deleted. */
  version: number | null;
  /** Each slot's current task (lib/model's slot bookkeeping, shared with the reconcile and the tree). */
  slots: SlotInfo[];
}

/** What a step decided. */
export interface ServiceEffects {
  /** Task records to write (new pending tasks, tasks to stop). */
  puts: TaskRecord[];
  events: PendingEvent[];
  /** New tasks wait for placement: tell the scheduler. */
  place: boolean;
  /** Placed tasks to stop: tell their nodes. */
  stops: { node: string; id: string; generation: number }[];
  /** The service is deleted and every task of it stopped: the controller can end. */
  done: boolean;
  /** The service's rollout status and status, when they changed (written with its state). */
  update?: RolloutStatus | null;
  status?: ServiceStatus;
  /** Put the previous spec back and roll it out; the message says why. */
  rollback?: string;
  /** Reconcile again at this time (a monitor period, a rollout delay or a slot's backoff ends). */
  wakeAt?: number;
}

/** A controller's initial state (rebuilt from the store at its first step). */
export function initialServiceState(name: string): ServiceState {
  return { name, version: null, slots: [] };
}

/** One reconcile of service `s.name`: how many tasks it needs, which to stop. Pure. */
export function serviceStep(
  s: ServiceState,
  service: ServiceRecord | undefined,
  tasks: readonly TaskRecord[],
  now: number,
  newId: (service: string, slot: number) => string,
  random: Random = Math.random,
): { state: ServiceState; effects: ServiceEffects } {
  const r = reconcileService(s.name, service, tasks, now, newId, random);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const puts: TaskRecord[] = [...r.create];
  const stops: ServiceEffects['stops'] = [];
  for (const id of r.stop) {
    const t = byId.get(id);
    if (!t) continue;
    // A task not placed yet is stopped at once; a placed one is stopped by its node, then reported; one that
    // already ended (a completed slot scaled away) is only no longer wanted.
    if (isTerminal(t.state)) puts.push({ ...t, desired: 'stopped', updatedAt: now });
    else if (t.node === null) puts.push({ ...t, desired: 'stopped', state: 'stopped', updatedAt: now });
    else {
      puts.push({ ...t, desired: 'stopped', updatedAt: now });
      stops.push({ node: t.node, id: t.id, generation: t.generation });
    }
  }
  const events = [
    ...r.create.map((t): PendingEvent => ({ type: 'task.state', subject: t.id, data: { service: t.service, slot: t.slot, generation: t.generation, state: t.state, ...(t.notBefore ? { notBefore: t.notBefore } : {}) } })),
    ...(r.events ?? []).map((e): PendingEvent => ({ type: e.type, subject: e.subject, data: e.data })),
  ];
  const after = new Map(tasks.map((t) => [t.id, t]));
  for (const t of puts) after.set(t.id, t);
  const all = [...after.values()];
  // A placed task wanted stopped but still running is stopped again by its node (e.g. a stop lost with a link).
  for (const t of all) {
    if (t.desired === 'stopped' && t.node !== null && !isTerminal(t.state) && !stops.some((x) => x.id === t.id)) stops.push({ node: t.node, id: t.id, generation: t.generation });
  }
  const done = !service && all.every((t) => t.desired === 'stopped');
  return {
    state: { name: s.name, version: service?.version ?? null, slots: slotInfos(all, service) },
    effects: {
      puts, events, place: r.create.length > 0, stops, done,
      ...(r.update !== undefined ? { update: r.update } : {}),
      ...(r.status !== undefined ? { status: r.status } : {}),
      ...(r.rollback !== undefined ? { rollback: r.rollback } : {}),
      ...(r.wakeAt !== undefined ? { wakeAt: r.wakeAt } : {}),
    },
  };
}
