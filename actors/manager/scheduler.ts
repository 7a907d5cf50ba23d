/**
 * `scheduler`: placement. It owns the placement state (the cursor of the
 * fair rotation over the pending queue, the backoff after idle rounds:
 * lib/manager/placement) and runs rounds: pending tasks are placed on linked
 * nodes (lib/scheduler's pure `place`), written `assigned`, and each node
 * is told what to run. A `place` message (something changed) runs a round at
 * once; the rest of a large queue follows in further rounds, backed off
 * while they place nothing. A restart starts the rotation afresh and runs a
 * round: the pending queue is in the store.
 */
import { actorChild, type NactRef } from '../supervision/index.js';
import type { ChildSpec, TimerId } from '../../lib/supervision/index.js';
import { isLive, type TaskRecord } from '../../lib/model/index.js';
import { buildNodeTable, place } from '../../lib/scheduler/index.js';
import { afterRound, INITIAL_PLACEMENT, roundBatch, type PlacementState } from '../../lib/manager/index.js';
import { isMessage, type ManagerContext, type SchedulerMessage } from './context.js';
import { pendingWake, wakeAt, type Wake } from './wake.js';

/** The scheduler's state. */
export interface SchedulerState {
  placement: PlacementState;
  /** A round is asked for (a `round` message is on its way): further changes join it. */
  requested: boolean;
  /** The next round, when one waits (a backoff after idle rounds). */
  timer: TimerId | null;
  /** A round when the first slot in its reschedule backoff may go (a task's `notBefore`). */
  placeAt: Wake | null;
}

const key = (t: TaskRecord): string => t.id;

/** The child spec of `scheduler`. */
export function schedulerActor(mc: ManagerContext): ChildSpec<NactRef> {
  return actorChild<SchedulerState, SchedulerMessage>({
    id: 'scheduler',
    init: (ctx) => {
      ctx.tell({ type: 'round' });
      return { placement: INITIAL_PLACEMENT, requested: true, timer: null, placeAt: null };
    },
    receive: (s, msg, ctx) => {
      if (!isMessage<SchedulerMessage>(msg, 'place', 'round')) return s; // anything else (a REPL user's message) is ignored
      if (msg.type === 'place') {
        // A change: the backoff is over; the changes already queued join one round (it is queued after them).
        if (s.timer !== null) mc.clock.clearTimeout(s.timer);
        if (!s.requested) ctx.tell({ type: 'round' });
        return { ...s, placement: { ...s.placement, idleRounds: 0 }, requested: true, timer: null, placeAt: pendingWake(s.placeAt, mc.clock.now(), msg.at) };
      }
      if (s.timer !== null) mc.clock.clearTimeout(s.timer);
      const now = mc.clock.now();
      const next = round(mc, s.placement);
      const timer = next.nextInMs === null ? null : mc.clock.setTimeout(() => ctx.tell({ type: 'round' }), next.nextInMs);
      // A slot in its reschedule backoff waits: a round is set for when the first of them may go (the earliest wins).
      let placeAt = pendingWake(s.placeAt, now);
      if (next.waitUntil !== null) placeAt = wakeAt(mc.clock, placeAt, next.waitUntil, now, (at) => ctx.tell({ type: 'place', at }));
      return { placement: next.state, requested: false, timer, placeAt };
    },
    terminate: (s) => {
      if (s.timer !== null) mc.clock.clearTimeout(s.timer);
      if (s.placeAt !== null) mc.clock.clearTimeout(s.placeAt.timer);
    },
  });
}

/** One placement round: places a batch of the pending queue and tells each node what to run. */
function round(mc: ManagerContext, state: PlacementState): ReturnType<typeof afterRound> & { waitUntil: number | null } {
  const { store } = mc.journal;
  const now = mc.clock.now();
  let waitUntil = Infinity;
  const waiting = store.listTasks({ state: 'pending' }).filter((t) => {
    if (t.desired !== 'running') return false;
    if (t.notBefore !== undefined && t.notBefore > now) {
      waitUntil = Math.min(waitUntil, t.notBefore);
      return false;
    }
    return true;
  }).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const wait = waitUntil === Infinity ? null : waitUntil;
  if (waiting.length === 0) return { state: { cursor: null, idleRounds: 0 }, nextInMs: null, waitUntil: wait };
  const { batch, covered } = roundBatch(state, waiting, key);
  const started = performance.now();
  const nodes = store.listNodes().filter((n) => mc.linkOf(n.id)?.open === true);
  const all = store.listActiveTasks().filter((t) => t.node !== null && isLive(t));
  const result = place(batch.map((t) => ({ taskId: t.id, service: t.service, slot: t.slot, spec: t.spec, ...(t.avoid ? { avoid: t.avoid } : {}) })), buildNodeTable(nodes, all), { scorer: mc.settings.scorer });
  const byId = new Map(batch.map((t) => [t.id, t]));
  const assigned: TaskRecord[] = [];
  mc.journal.tx(() => {
    for (const p of result.placements) {
      const { notBefore: _n, avoid: _a, ...t } = byId.get(p.taskId)!;
      assigned.push({ ...t, node: p.node, state: 'assigned', error: null, updatedAt: now });
      mc.journal.event('task.state', t.id, { state: 'assigned', node: p.node, generation: t.generation });
    }
    const unplaced = result.unplaced.map((u) => ({ ...byId.get(u.taskId)!, error: { code: 'GOAT_ERR_RESOURCE', message: u.reason }, updatedAt: now }));
    store.putTasks([...assigned, ...unplaced]);
  });
  mc.onPlacement(performance.now() - started, assigned.length);
  for (const t of assigned) mc.tell(`/cluster/manager/nodes/${t.node!}`, { type: 'assign', task: t });
  return { ...afterRound(state, { batch, covered, placed: assigned.length }, key), waitUntil: wait };
}
