/**
 * How many tasks a service should have, and which: the replica controller's
 * pure decision (SwarmKit's `reconcile()`), with its slots supervised
 * (see {@link decideSlot}) and task spec changes rolled out (see
 * {@link stepRollout}). The scheduler decides where; the worker decides how to run.
 *
 * Policy, per slot `0 … replicas-1`:
 * - its task of the current spec completed under restart policy `no` / `on-failure` → done: nothing;
 * - no live task → create one (pending) with generation = 1 + the slot's highest so far,
 *   placed no sooner than the slot's reschedule backoff allows and, after a
 *   failure, preferably elsewhere;
 * - several live tasks of one spec → keep the highest generation (the current one), stop the others;
 * - a live task whose spec is not the service's → outdated: the rollout replaces it when its turn
 *   comes (stop-first: stopped as its successor is created; start-first: stopped once its successor
 *   runs, and passed its first health check when it has one);
 * and every live task of a slot ≥ replicas, or of a deleted service, is stopped.
 * "Live" means wanted running and not in a terminal state.
 */
import type { Random } from '../supervision/index.js';
import type { ClusterEvent, RolloutStatus, ServiceRecord, ServiceStatus, TaskRecord } from './records.js';
import { completedForGood } from './completion.js';
import { stepRollout, type RolloutEffect } from './rollout.js';
import { FRESH_SLOT, decideSlot, type SlotEvent } from './slot.js';
import { specKey as key, tasksBySlot } from './slots.js';
import { isTerminal } from './state.js';

/** An event the caller appends to the log. */
export type ReconcileEvent = Omit<ClusterEvent, 'seq' | 'at'>;

/** What {@link reconcileService} asks for. */
export interface ReconcileResult {
  /** New pending tasks to store. */
  create: TaskRecord[];
  /** Ids of live tasks to stop (set `desired: 'stopped'`). */
  stop: string[];
  /** Events to append (`slot.backoff`, `alert`, `service.degraded`, `service.running`, `update.*`). */
  events?: ReconcileEvent[];
  /** The service's rollout status, when it changed. */
  update?: RolloutStatus | null;
  /** The service's status, when it changed. */
  status?: ServiceStatus;
  /** Put the previous spec back and roll it out (`failureAction: rollback`); the message says why. */
  rollback?: string;
  /** Reconcile this service again at this time (a monitor period or a rollout delay ends). */
  wakeAt?: number;
}

/** True for a task that is wanted running and not finished. */
export function isLive(task: TaskRecord): boolean {
  return task.desired === 'running' && !isTerminal(task.state);
}

/** Why a task is not running, in one line: its failure, error or last exit. */
export function whyFailed(t: TaskRecord): string {
  return t.failure?.message ?? t.error?.message ?? t.lastExit?.message ?? `${t.state}`;
}

/**
 * Decides the tasks of one service. `service` undefined means it was
 * deleted. `tasks` are the service's tasks the store keeps (live ones and the
 * recent history of each slot); `random` drives the backoff's jitter.
 */
export function reconcileService(
  name: string,
  service: ServiceRecord | undefined,
  tasks: readonly TaskRecord[],
  now: number,
  newId: (service: string, slot: number) => string,
  random: Random = Math.random,
): ReconcileResult {
  const create: TaskRecord[] = [];
  const stop: string[] = [];
  const events: ReconcileEvent[] = [];
  const mine = tasks.filter((t) => t.service === name);
  const live = mine.filter(isLive);
  if (!service) return { create, stop: live.map((t) => t.id) };
  const replicas = service.spec.replicas;
  const specKey = key(service.spec.task);
  const rollout = service.update ?? null;
  const rolloutSince = rollout && rollout.version === service.version ? rollout.startedAt : now;
  const monitorMs = (rollout?.state === 'rolling_back' ? service.spec.rollback : service.spec.update).monitorMs;
  for (const t of live) if (t.slot >= replicas) stop.push(t.id);
  // A completed slot scaled away is retired (wanted stopped), so that scaling up again runs it anew.
  for (const t of mine) if (t.slot >= replicas && completedForGood(t)) stop.push(t.id);

  const bySlot = tasksBySlot(mine);
  const outdated: { slot: number; task: TaskRecord; inSlot: TaskRecord[] }[] = [];
  const escalated: string[] = [];
  let inflight = 0;
  let monitorEndsAt: number | undefined;
  let lastDoneAt: number | undefined;

  for (let slot = 0; slot < replicas; slot++) {
    const inSlot = bySlot.get(slot) ?? [];
    const liveHere = inSlot.filter(isLive);
    const [fresh, ...extraFresh] = liveHere.filter((t) => key(t.spec) === specKey);
    const [stale, ...extraStale] = liveHere.filter((t) => key(t.spec) !== specKey);
    for (const t of [...extraFresh, ...extraStale]) stop.push(t.id);
    if (fresh) {
      // start-first: the outdated task stops once its successor runs.
      if (stale && ((fresh.state === 'running' && monitorFrom(fresh) !== undefined) || fresh.generation < stale.generation)) stop.push(stale.id);
      if (fresh.supervision?.escalated && fresh.state !== 'running') escalated.push(pastBudget(slot, fresh));
      if (fresh.createdAt >= rolloutSince) {
        const since = fresh.state === 'running' ? monitorFrom(fresh) : undefined;
        const doneAt = since === undefined ? undefined : since + monitorMs;
        if (doneAt !== undefined && doneAt <= now) lastDoneAt = Math.max(lastDoneAt ?? 0, doneAt);
        else {
          inflight++;
          if (doneAt !== undefined) monitorEndsAt = Math.min(monitorEndsAt ?? doneAt, doneAt);
        }
      }
      continue;
    }
    if (stale) {
      outdated.push({ slot, task: stale, inSlot });
      continue;
    }
    // Its task of this spec completed under `no` / `on-failure`: the slot's work is done, not a failure.
    const latest = inSlot[0];
    if (latest && completedForGood(latest) && key(latest.spec) === specKey) continue;
    const next = successor(name, slot, inSlot, service, now, newId, random, events);
    if (next.supervision?.escalated) escalated.push(pastBudget(slot, next));
    create.push(next);
    if (next.createdAt >= rolloutSince && rollout && rollout.version === service.version) inflight++;
  }

  const result: ReconcileResult = { create, stop };
  // The rollout: which outdated slots are replaced now.
  const started = mine.filter((t) => t.createdAt >= rolloutSince && key(t.spec) === specKey);
  const failures = started
    .filter((t) => t.restarts > 0 || t.state === 'failed' || t.state === 'exited' || t.state === 'restarting')
    .sort((a, b) => b.updatedAt - a.updatedAt)
    .map((t) => ({ taskId: t.id, why: whyFailed(t) }));
  const step = stepRollout(
    rollout,
    {
      version: service.version, outdated: outdated.map((o) => o.slot), inflight, started: started.length, failures,
      canRollBack: !!service.previousSpec,
      ...(monitorEndsAt === undefined ? {} : { monitorEndsAt }),
      ...(lastDoneAt === undefined ? {} : { lastDoneAt }),
    },
    rollout?.state === 'rolling_back' ? service.spec.rollback : service.spec.update,
    now,
  );
  const order = (step.status?.state === 'rolling_back' ? service.spec.rollback : service.spec.update).order;
  for (const slot of step.replace) {
    const o = outdated.find((x) => x.slot === slot)!;
    if (order === 'stop-first') stop.push(o.task.id);
    create.push(successor(name, slot, o.inSlot, service, now, newId, random, events));
  }
  if (step.status !== rollout) result.update = step.status;
  for (const e of step.effects) applyEffect(e, name, service.version, events, result);
  if (step.wakeAt !== undefined) result.wakeAt = step.wakeAt;

  // The service's status: degraded while a slot past its budget is not running.
  const status: ServiceStatus = escalated.length > 0
    ? { state: 'degraded', reason: escalated.join('; '), since: service.status?.state === 'degraded' ? service.status.since : now }
    : { state: 'running', since: service.status?.state === 'running' ? service.status.since : now };
  if (!service.status || service.status.state !== status.state || service.status.reason !== status.reason) {
    result.status = status;
    if (status.state === 'degraded' && service.status?.state !== 'degraded') events.push({ type: 'service.degraded', subject: name, data: { reason: status.reason } });
    if (status.state === 'running' && service.status?.state === 'degraded') events.push({ type: 'service.running', subject: name, data: {} });
  }
  if (events.length > 0) result.events = events;
  return result;
}

function applyEffect(e: RolloutEffect, name: string, version: number, events: ReconcileEvent[], result: ReconcileResult): void {
  switch (e.type) {
    case 'event':
      events.push({ type: e.event, subject: name, data: { version, message: e.message } });
      return;
    case 'rollback':
      result.rollback = e.message;
      return;
    default: {
      const never: never = e;
      throw new Error(`unknown effect ${JSON.stringify(never)}`);
    }
  }
}

/** The next generation of a slot, its placement delayed and steered by the slot's supervision. */
function successor(
  name: string, slot: number, inSlot: readonly TaskRecord[], service: ServiceRecord, now: number,
  newId: (service: string, slot: number) => string, random: Random, events: ReconcileEvent[],
): TaskRecord {
  const spec = service.spec.task;
  const latest = inSlot[0];
  const generation = 1 + inSlot.reduce((max, t) => Math.max(max, t.generation), 0);
  let previous = latest?.supervision ?? FRESH_SLOT;
  // A slot that ran again is no longer escalated: its next failure past the budget alerts again.
  if (latest?.runningSince !== undefined && previous.escalated) previous = { ...previous, escalated: false };
  const event: SlotEvent = !latest ? { type: 'stopped' }
    : key(latest.spec) !== key(spec) ? { type: 'spec_changed' }
      : latest.state === 'failed' || latest.state === 'completed' ? { type: 'failed', node: latest.node, error: whyFailed(latest), startedAt: latest.runningSince ?? latest.createdAt }
        : latest.state === 'lost' ? { type: 'lost' } : { type: 'stopped' };
  const d = decideSlot(previous, event, service.spec.reschedule, now, random);
  const id = newId(name, slot);
  const task: TaskRecord = {
    id, service: name, slot, generation, node: null, state: 'pending', desired: 'running',
    restarts: 0, lastExit: null, failure: null, error: null, spec, createdAt: now, updatedAt: now, supervision: d.state,
  };
  if (d.avoid.length > 0) task.avoid = d.avoid;
  if (d.delayMs > 0) {
    task.notBefore = now + d.delayMs;
    task.error = { message: `re-placing in ${Math.ceil(d.delayMs / 1000)} s after ${d.why}` };
    events.push({ type: 'slot.backoff', subject: `${name}/${slot}`, data: { service: name, slot, task: id, generation, delayMs: d.delayMs, failures: d.state.failures.length, node: latest?.node ?? null, why: d.why } });
  }
  if (d.alert) {
    events.push({ type: 'alert', subject: name, data: { service: name, slot, node: latest?.node ?? null, error: latest ? whyFailed(latest) : '', message: `service ${name} slot ${slot} is past its reschedule budget: ${d.why}` } });
  }
  return task;
}

/**
 * When a running task's monitor starts: once it is healthy when it has a
 * health check (its first probe passed), else once it runs. Undefined while
 * it is not (yet) healthy.
 */
function monitorFrom(t: TaskRecord): number | undefined {
  return t.spec.health ? t.healthySince : t.runningSince;
}

function pastBudget(slot: number, t: TaskRecord): string {
  return `slot ${slot} is past its reschedule budget (last failure ${t.supervision?.lastError ?? 'unknown'})`;
}

