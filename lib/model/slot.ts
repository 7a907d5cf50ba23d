/**
 * Cluster-level supervision of one slot (SwarmKit's `orchestrator/restart`,
 * Nomad's `reschedule`): when a slot's task ends, how soon its next task may
 * be placed, where not, and whether the failure escalates to the service.
 *
 * A pure function over the supervision library's {@link decide}: the slot
 * is a `permanent` child whose backoff and budget are the service's
 * `reschedule` block. Past the budget (`maxAttempts` failures within
 * `windowMs`) the slot escalates — the service is `degraded` and an `alert`
 * names it — and keeps being re-placed every `maxMs`: never a hot loop,
 * never silently given up. The history travels on the task records, from one
 * generation to the next, so a restarted manager has it.
 */
import { decide, recordIn, type Random } from '../supervision/index.js';
import type { RescheduleSpec } from './service.js';

/** A slot's reschedule history (on its current task record). */
export interface SlotSupervision {
  /** When its tasks failed (ms), inside the budget's window. */
  failures: number[];
  /** Failures since the slot last ran `resetAfterMs`: the backoff exponent. */
  consecutive: number;
  /** Past its budget: the service is degraded because of it. */
  escalated: boolean;
  /** The last failure, where and why (`on n1: no such executable`). */
  lastError?: string;
  /** Nodes it failed on, the most recent last (at most {@link MAX_FAILED_ON}): placement avoids them. */
  failedOn?: string[];
}

/** How many nodes a slot remembers failing on. */
export const MAX_FAILED_ON = 8;

/** A slot nobody has seen fail. */
export const FRESH_SLOT: Readonly<SlotSupervision> = Object.freeze({ failures: [], consecutive: 0, escalated: false });

/** How a slot's previous task ended. */
export type SlotEvent =
  /** Its task failed (or completed) on `node`: a crash of the slot. `startedAt`: when it last started running (or was created). */
  | { type: 'failed'; node: string | null; error: string; startedAt: number }
  /** Its node was lost: not the task's fault, re-placed at once. */
  | { type: 'lost' }
  /** Stopped on purpose (update, drain, scale): re-placed at once. */
  | { type: 'stopped' }
  /** The task spec changed: the history starts again (SwarmKit clears it on a new spec version). */
  | { type: 'spec_changed' };

/** What {@link decideSlot} says. */
export interface SlotDecision {
  state: SlotSupervision;
  /** Wait this long before placing the slot's next task. */
  delayMs: number;
  /** Prefer any node not in this list; if only these fit, the first (failed on longest ago). */
  avoid: string[];
  /** True when this failure spent the budget (the slot was not escalated before): raise an alert. */
  alert: boolean;
  /** A sentence for `ps` and events; empty for an immediate re-placement. */
  why: string;
}

/** Decides about a slot whose task ended. Touches nothing; `random` drives the jitter. */
export function decideSlot(state: SlotSupervision, event: SlotEvent, spec: RescheduleSpec, now: number, random: Random): SlotDecision {
  switch (event.type) {
    case 'lost':
    case 'stopped':
      return { state, delayMs: 0, avoid: [], alert: false, why: '' };
    case 'spec_changed':
      return { state: { ...FRESH_SLOT, failures: [] }, delayMs: 0, avoid: [], alert: false, why: '' };
    case 'failed':
      return failed(state, event, spec, now, random);
    default: {
      const never: never = event;
      throw new Error(`unknown slot event ${JSON.stringify(never)}`);
    }
  }
}

function failed(state: SlotSupervision, event: Extract<SlotEvent, { type: 'failed' }>, spec: RescheduleSpec, now: number, random: Random): SlotDecision {
  const backoff = { initialMs: spec.initialMs, factor: spec.factor, maxMs: spec.maxMs, jitter: spec.jitter, resetAfterMs: spec.resetAfterMs };
  const d = decide(
    { type: 'error', error: { name: 'TaskFailed', message: event.error } },
    { id: 'slot', restart: 'permanent', shutdownMs: 0, backoff, budget: { maxRestarts: spec.maxAttempts, windowMs: spec.windowMs }, stashLimit: 0 },
    { supervisorRestarts: [], childRestarts: state.failures, consecutive: state.consecutive, startedAt: event.startedAt },
    now,
    // No supervisor budget: a slot's failures never escalate past the service; its own budget (maxAttempts) makes it `degraded`.
    { strategy: 'one_for_one', maxRestarts: Number.POSITIVE_INFINITY, windowMs: spec.windowMs },
    random,
  );
  const failures = [...state.failures];
  recordIn(failures, now, spec.windowMs);
  const on = event.node ? ` on ${event.node}` : '';
  const failedOn = [...(state.failedOn ?? []).filter((n) => n !== event.node), ...(event.node ? [event.node] : [])].slice(-MAX_FAILED_ON);
  const lastError = `${on.trim()}: ${event.error}`.replace(/^: /, '');
  switch (d.action) {
    case 'restart': {
      const next = { failures, consecutive: d.attempt + 1, escalated: false, lastError, failedOn };
      return { state: next, delayMs: d.delayMs, avoid: failedOn, alert: false, why: `${failures.length} failure${failures.length === 1 ? '' : 's'} (last${on}: ${event.error})` };
    }
    case 'give_up': {
      // Past the budget: escalate once, and keep trying at the longest delay.
      const next = { failures, consecutive: state.consecutive + 1, escalated: true, lastError, failedOn };
      return { state: next, delayMs: spec.maxMs, avoid: failedOn, alert: !state.escalated, why: `${failures.length} failures within ${spec.windowMs} ms, more than ${spec.maxAttempts} (last${on}: ${event.error})` };
    }
    case 'ignore':
    case 'escalate':
      // A permanent child under a supervisor without a budget is never ignored nor escalated.
      throw new Error(`unexpected slot decision ${d.action}`);
    default: {
      const never: never = d.action;
      throw new Error(`unknown action ${String(never)}`);
    }
  }
}
