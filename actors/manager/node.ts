/**
 * `nodes/<id>`: one worker node. It owns that node's link (the handle comes
 * in a `linked` message; its frames come back into this mailbox as data),
 * its liveness (lib/manager/liveness: suspect, ready, down), and its
 * commands (assigns and stops, each stop sent once until acknowledged or
 * the link closes).
 *
 * A restart rebuilds it from durable truth: the node's record in the store,
 * and the worker's hello on its open link (re-applied: idempotent). A node
 * declared down ends (normal exit) once none of its tasks waits to be lost.
 */
import { actorChild, type ActorContext } from '../supervision/index.js';
import type { ChildSpec } from '../../lib/supervision/index.js';
import type { NactRef } from '../supervision/index.js';
import { canTransition, isTerminal, type NodeRecord } from '../../lib/model/index.js';
import { applyHello, applyReports, watchesRunning, livenessStep, linkedLiveness, recoveringLiveness, type LivenessEffect, type LivenessState, type ReportedTask, type ReportOutcome } from '../../lib/manager/index.js';
import type { TimerId } from '../../lib/supervision/index.js';
import { LINK_CLOSE } from '../../transport/close-codes.js';
import { afterCommit } from '../../lib/store/index.js';
import { planted } from '../../lib/sim/planted.js';
import { isMessage, type ManagerContext, type NodeLink, type NodeMessage } from './context.js';

/** A node actor's state. */
export interface NodeState {
  id: string;
  /** The open link, and its number (frames of an older link are ignored). */
  link: NodeLink | null;
  linkNo: number;
  /** Unsubscribes the current link's listeners. */
  unlisten: (() => void) | null;
  liveness: LivenessState;
  /** Stops sent and not yet acknowledged, by `taskId@generation`. */
  stopping: Set<string>;
  /** The next liveness check. */
  checkTimer: TimerId | null;
  /** Tasks `unknown` (their node down) waiting their `disconnect.lostAfterMs`. */
  loseTimers: Map<string, TimerId>;
  /** Reports received and not applied yet: applied together, in one transaction, once the mailbox has no more. */
  reports: ReportedTask[];
  /**
   * Per task, the `seq` of the last report of this link taken for it: an older one that arrives after it (frames
   * overtaken or repeated on a hostile network) is dropped. Found by the simulation (CI seed 122): a task's
   * `unknown`, sent just before its `running`, arrived after it, and the task stayed `unknown` for good.
   */
  reportSeq: Map<string, number>;
}

/**
 * Links whose hello a node actor has applied. A restarted actor must not
 * apply it again: it is as old as the link, and tasks assigned and reported
 * since would be judged gone from the node (found by the simulation, seed
 * 158: a store error crashed the actor, its restart re-applied the hello,
 * and a task running since was marked lost, re-placed, and its copy left
 * running). It closes such a link instead: the worker says hello again.
 */
const helloApplied = new WeakSet<NodeLink>();

const NODE_MESSAGES: NodeMessage['type'][] = ['gone', 'linked', 'heartbeat', 'report', 'apply-reports', 'closed', 'check', 'assign', 'stop', 'stopped', 'stop-failed', 'sync', 'lose'];

/** The child spec of `nodes/<id>`. `recovering`: known from the store at a manager start (grace), not linked yet. */
export function nodeActor(mc: ManagerContext, id: string): ChildSpec<NactRef> {
  return actorChild<NodeState, NodeMessage>({
    id, restart: 'transient',
    init: (ctx) => {
      const now = mc.clock.now();
      const inGrace = now - mc.startedAt < mc.settings.recoveryGraceMs;
      const record = mc.journal.store.getNode(id);
      const state: NodeState = {
        id, link: null, linkNo: 0, unlisten: null,
        // Silence counts from this actor's start, never from an older time: after the grace, the heartbeat written last
        // to the store lags (a flush a second, a failed one more), and judging by it declared nodes down before their
        // timeout of silence (found by the simulation, CI seeds 668 and 884: a store error restarted the store actor
        // and, with it unopened, the node's actor). Within the grace, the manager's start is the same moment for the
        // first actor; one restarted by a store error judged a node that had linked and beaten since as silent from the
        // manager's start, and declared it down as the grace ended, before its timeout of silence (seeds 740, 745).
        liveness: inGrace ? { ...recoveringLiveness(mc.startedAt, mc.settings.recoveryGraceMs), lastBeatAt: now } : { ...recoveringLiveness(Math.max(record?.lastSeenAt ?? now, now), 0), graceUntil: null },
        stopping: new Set(), checkTimer: null, loseTimers: new Map(), reports: [], reportSeq: new Map(),
      };
      // A node stored as down stays down (its unknown tasks wait to be lost); else it is suspect until its hello.
      if (record?.status === 'down') {
        state.liveness = { ...state.liveness, down: true };
        for (const t of mc.journal.store.listTasks({ node: id, state: 'unknown' })) scheduleLose(mc, ctx, state, t.id, t.generation, Math.max(0, t.updatedAt + (t.spec.disconnect.lostAfterMs ?? 0) - now), t.spec.disconnect.replace === false);
      } else {
        suspect(mc, id);
      }
      const link = mc.linkOf(id);
      if (link?.open && helloApplied.has(link)) {
        link.close(LINK_CLOSE.RESYNC.code, LINK_CLOSE.RESYNC.meaning);
        // Its link was open until now (an open link is never silent for long): its silence counts from here, not
        // from the last heartbeat written (found by the simulation, CI seed 215: down 351 ms after its hello).
        if (!state.liveness.down) state.liveness = { ...state.liveness, lastBeatAt: Math.max(state.liveness.lastBeatAt, now) };
      } else if (link?.open) {
        ctx.tell({ type: 'linked', link });
      }
      armCheck(mc, ctx, state);
      return state;
    },
    receive: (s, msg, ctx) => {
      if (!isMessage<NodeMessage>(msg, ...NODE_MESSAGES)) return s; // anything else (a REPL user's message) is ignored
      return receive(mc, s, msg, ctx);
    },
    terminate: (s) => {
      s.unlisten?.();
      if (s.checkTimer !== null) mc.clock.clearTimeout(s.checkTimer);
      for (const t of s.loseTimers.values()) mc.clock.clearTimeout(t);
    },
  });
}

function receive(mc: ManagerContext, s: NodeState, msg: NodeMessage, ctx: ActorContext): NodeState {
  const now = mc.clock.now();
  switch (msg.type) {
    case 'linked':
      return linked(mc, s, msg.link, ctx);
    case 'heartbeat': {
      if (msg.linkNo !== s.linkNo || !s.link) return s;
      mc.onHeartbeat(s.link);
      mc.tell('/cluster/manager/store', { type: 'beat', node: s.id, usage: msg.usage, at: now });
      setUnavailable(mc, s.id, msg.unavailable);
      return live(mc, s, { type: 'heartbeat', at: now }, ctx);
    }
    case 'report': {
      if (msg.linkNo !== s.linkNo) return s;
      const tasks = msg.seq === undefined ? msg.tasks : msg.tasks.filter((t) => newer(s, t, msg.seq!));
      if (tasks.length === 0) return s;
      // Queued; the reports already in the mailbox join them, and one transaction applies them all.
      if (s.reports.length === 0) ctx.tell({ type: 'apply-reports' });
      s.reports.push(...tasks);
      return s;
    }
    case 'apply-reports':
      applyQueuedReports(mc, s, ctx);
      return s;
    case 'closed': {
      if (msg.linkNo !== s.linkNo || !s.link) return s;
      s.unlisten?.();
      const next = { ...s, link: null, unlisten: null, stopping: new Set<string>() };
      return live(mc, next, { type: 'unlinked' }, ctx);
    }
    case 'check': {
      const next = live(mc, { ...s, checkTimer: null }, { type: 'check', at: now, lateMs: Math.max(0, now - msg.due) }, ctx);
      if (!next.liveness.down) armCheck(mc, ctx, next);
      else if (next.loseTimers.size === 0 && !relinking(mc, s.id)) ctx.exit();
      return next;
    }
    case 'assign': {
      const t = msg.task;
      const link = s.link;
      if (!link) return s;
      // A command goes out only once the write behind it is durable (at once with SQLite).
      void afterCommit(mc.journal.store, () => link.command('assign', { cmdId: `assign:${t.id}:${t.generation}`, task: { taskId: t.id, service: t.service, slot: t.slot, generation: t.generation, spec: t.spec }, ...epochField(mc) }))
        .then((r) => {
          // A re-sent assign the worker answers `applied: false` to: it had it, and no longer has it.
          if (msg.resent && !r.applied) ctx.tell({ type: 'gone', id: t.id, generation: t.generation });
        }, () => undefined);
      return s;
    }
    case 'gone': {
      const t = mc.journal.store.getTask(msg.id);
      // Only a task the worker never reported since: one it reported (starting, running...) is there, and a re-sent
      // assign racing the first one (or the worker's report of it) is answered `applied: false` too.
      if (!t || t.generation !== msg.generation || t.node !== s.id || t.desired !== 'running' || (t.state !== 'assigned' && t.state !== 'pending')) return s;
      mc.journal.tx(() => {
        mc.journal.store.putTasks([{ ...t, state: 'lost', desired: 'stopped', error: { code: 'GOAT_ERR_NODE_DOWN', message: `node ${s.id} no longer has this task` }, updatedAt: now }]);
        mc.journal.event('task.state', msg.id, { state: 'lost', generation: msg.generation, node: s.id });
      });
      mc.tell(`/cluster/manager/services/${t.service}`, { type: 'reconcile' });
      return s;
    }
    case 'stop':
      sendStop(mc, s, msg.id, msg.generation, ctx);
      return s;
    case 'stopped': {
      s.stopping.delete(`${msg.id}@${msg.generation}`);
      const t = mc.journal.store.getTask(msg.id);
      if (!t || t.generation !== msg.generation || isTerminal(t.state)) return s;
      mc.journal.tx(() => {
        mc.journal.store.putTasks([{ ...t, state: 'stopped', updatedAt: now }]);
        mc.journal.event('task.state', msg.id, { state: 'stopped', generation: msg.generation });
      });
      mc.tell(`/cluster/manager/services/${t.service}`, { type: 'reconcile' });
      return s;
    }
    case 'stop-failed':
      s.stopping.delete(`${msg.id}@${msg.generation}`); // the link closed first: sent again at its next hello
      return s;
    case 'sync':
      sendStops(mc, s, ctx);
      return s;
    case 'lose': {
      s.loseTimers.delete(msg.id);
      const t = mc.journal.store.getTask(msg.id);
      if (t && t.generation === msg.generation && t.state === 'unknown') {
        mc.journal.tx(() => {
          mc.journal.store.putTasks([{ ...t, state: 'lost', desired: 'stopped', updatedAt: now }]);
          mc.journal.event('task.state', msg.id, { state: 'lost', generation: msg.generation, node: t.node });
        });
        mc.tell(`/cluster/manager/services/${t.service}`, { type: 'reconcile' });
      }
      if (s.liveness.down && s.loseTimers.size === 0 && !relinking(mc, s.id)) ctx.exit();
      return s;
    }
  }
}

/** Whether a task's report in frame `seq` is newer than what this link said of it before (and remember it when it is). */
function newer(s: NodeState, t: ReportedTask, seq: number): boolean {
  const last = s.reportSeq.get(t.taskId);
  if (last !== undefined && last >= seq) return false;
  // A task that ended is not wanted back by any report: its entry can go (the link's entries stay few).
  if (isTerminal(t.state)) s.reportSeq.delete(t.taskId);
  else s.reportSeq.set(t.taskId, seq);
  return true;
}

/**
 * A down node's actor ends, unless a new link of its node is attached: its
 * `linked` message waits in this mailbox and would be lost with the actor,
 * leaving the worker linked and the node down for good (found by the
 * simulation, CI seed 868: a worker restarted just as it was declared down).
 */
function relinking(mc: ManagerContext, id: string): boolean {
  return mc.linkOf(id)?.open === true;
}

/** Applies the queued reports, oldest first, in one transaction (a report is not acknowledged: nothing waits on it). */
function applyQueuedReports(mc: ManagerContext, s: NodeState, ctx: ActorContext): void {
  if (s.reports.length === 0) return;
  const reports = s.reports.splice(0);
  const out = applyReports(s.id, reports, (tid) => mc.journal.store.getTask(tid), mc.clock.now(), (name) => watchesRunning(mc.journal.store.getService(name)));
  write(mc, out);
  for (const st of out.stops) sendStop(mc, s, st.id, st.generation, ctx, true);
}

/** Records why the node takes no tasks (or that it takes them again, then placement runs), when that changed. */
function setUnavailable(mc: ManagerContext, id: string, unavailable: string | undefined): void {
  const { store } = mc.journal;
  const node = store.getNode(id);
  if (!node || node.unavailable === unavailable) return;
  const { unavailable: _old, ...rest } = node;
  const next: NodeRecord = { ...rest, ...(unavailable === undefined ? {} : { unavailable }), updatedAt: mc.clock.now() };
  mc.journal.tx(() => {
    store.putNode(next);
    mc.journal.event('node.status', id, { status: next.status, ...(unavailable === undefined ? { available: true } : { unavailable }) });
  });
  if (unavailable === undefined) mc.tell('/cluster/manager/scheduler', { type: 'place' });
}

/** A worker linked (or re-linked): record the node, apply its hello, send what it misses. */
function linked(mc: ManagerContext, s: NodeState, link: NodeLink, ctx: ActorContext): NodeState {
  // A link closed before this actor took it (a RESYNC after a lost group of writes): not taken, but its hello was heard,
  // and silence counts from it (found by the simulation, seed 3194: declared down 3,997 ms after such a hello).
  if (!link.open) return live(mc, s, { type: 'heartbeat', at: mc.clock.now() }, ctx);
  if (s.link === link) return s;
  if (helloApplied.has(link)) {
    link.close(LINK_CLOSE.RESYNC.code, LINK_CLOSE.RESYNC.meaning); // a restart's queued `linked`: its hello is stale
    return s;
  }
  helloApplied.add(link);
  applyQueuedReports(mc, s, ctx); // reports sent before this hello are older than it
  s.unlisten?.();
  const now = mc.clock.now();
  const linkNo = s.linkNo + 1;
  const offs = [
    link.on('heartbeat', (hb) => ctx.tell({ type: 'heartbeat', linkNo, usage: hb.usage, unavailable: hb.unavailable })),
    link.on('report', (r) => ctx.tell({ type: 'report', linkNo, tasks: r.tasks, seq: r.seq })),
    link.on('close', () => ctx.tell({ type: 'closed', linkNo })),
  ];
  const hello = link.hello;
  const { store } = mc.journal;
  const old = store.getNode(s.id);
  const node: NodeRecord = {
    id: s.id, name: hello.name, runtime: hello.runtime, labels: hello.labels, capacity: hello.capacity,
    status: old?.status === 'draining' ? 'draining' : 'ready',
    usage: old?.usage ?? { tasks: 0, memoryMb: 0, cpuSeconds: 0 },
    lastSeenAt: now, createdAt: old?.createdAt ?? now, updatedAt: now,
    ...(hello.unavailable === undefined ? {} : { unavailable: hello.unavailable }),
  };
  const out = applyHello(s.id, hello.name, hello.tasks, store.listActiveTasks({ node: s.id }), (tid) => store.getTask(tid), now, (name) => watchesRunning(store.getService(name)));
  mc.journal.tx(() => {
    store.putNode(node);
    if (old?.status !== node.status) mc.journal.event('node.status', node.id, { status: node.status });
    write(mc, out);
  });
  const next: NodeState = { ...s, link, linkNo, unlisten: () => offs.forEach((off) => off()), stopping: new Set(), reportSeq: new Map(), liveness: linkedLiveness(now) };
  if (next.checkTimer === null) armCheck(mc, ctx, next);
  // Seed 002: re-send the last desired state on every (re)connect.
  for (const t of out.resend) ctx.tell({ type: 'assign', task: t, resent: true });
  for (const st of out.stops) sendStop(mc, next, st.id, st.generation, ctx, true);
  sendStops(mc, next, ctx);
  mc.tell('/cluster/manager/scheduler', { type: 'place' });
  return next;
}

/** Writes what reports decided, and tells the controllers concerned. */
function write(mc: ManagerContext, out: ReportOutcome): void {
  if (out.puts.length > 0 || out.events.length > 0) {
    mc.journal.tx(() => {
      mc.journal.store.putTasks(out.puts);
      mc.journal.events(out.events);
    });
  }
  for (const service of out.services) mc.tell(`/cluster/manager/services/${service}`, { type: 'reconcile' });
}

/** Runs a liveness step and carries out its effects. */
function live(mc: ManagerContext, s: NodeState, event: Parameters<typeof livenessStep>[2], ctx: ActorContext): NodeState {
  // The simulation's planted bugs (lib/sim/planted.ts; off but in its own tests): no grace, or suspect taken for down.
  const before = planted.skipRecoveryGrace ? { ...s.liveness, graceUntil: null } : s.liveness;
  const config = planted.replaceBeforeDown ? { ...mc.settings.detector, downAfterMs: mc.settings.detector.suspectAfterMs } : mc.settings.detector;
  const { state, effects } = livenessStep(config, before, event);
  let next: NodeState = { ...s, liveness: state };
  for (const e of effects) next = effect(mc, next, e, ctx);
  return next;
}

function effect(mc: ManagerContext, s: NodeState, e: LivenessEffect, ctx: ActorContext): NodeState {
  switch (e.type) {
    case 'suspect':
      suspect(mc, s.id);
      return s;
    case 'ready':
      if (setStatus(mc, s.id, ['suspect'], 'ready')) mc.tell('/cluster/manager/scheduler', { type: 'place' });
      return s;
    case 'down':
      return down(mc, s, ctx);
  }
}

/** Not linked (yet) or silent: no new placements; `down` follows unless it comes back. A draining node stays draining. */
function suspect(mc: ManagerContext, id: string): void {
  setStatus(mc, id, ['ready', 'degraded'], 'suspect');
}

function setStatus(mc: ManagerContext, id: string, from: NodeRecord['status'][], to: NodeRecord['status']): boolean {
  const node = mc.journal.store.getNode(id);
  if (!node || !from.includes(node.status)) return false;
  mc.journal.tx(() => {
    mc.journal.store.putNode({ ...node, status: to, updatedAt: mc.clock.now() });
    mc.journal.event('node.status', id, { status: to });
  });
  return true;
}

/** The node is down: its tasks are lost (their slots re-placed); a link it still has is closed, so that it says hello again. */
function down(mc: ManagerContext, s: NodeState, ctx: ActorContext): NodeState {
  applyQueuedReports(mc, s, ctx);
  if (s.link) {
    s.unlisten?.();
    s.link.close(LINK_CLOSE.SILENT.code, 'declared down: no heartbeat');
  }
  const next: NodeState = { ...s, link: null, unlisten: null, stopping: new Set() };
  const { store } = mc.journal;
  const node = store.getNode(s.id);
  if (!node || node.status === 'down') return next;
  const now = mc.clock.now();
  const error = { code: 'GOAT_ERR_NODE_DOWN', message: `node ${node.name} is down` };
  const affected = store.listActiveTasks({ node: s.id });
  // Per task (spec.disconnect): `replace: false` waits for the node (unknown, never re-placed);
  // `lostAfterMs` waits that long (unknown, then lost); by default the task is lost at once.
  const tasks = affected.map((t) => {
    const wait = t.spec.disconnect.replace === false || (t.spec.disconnect.lostAfterMs ?? 0) > 0;
    const unknown = wait && canTransition(t.state, 'unknown');
    // A lost task is replaced: no longer wanted running (its copy is stopped if its node returns).
    return { ...t, state: unknown ? ('unknown' as const) : ('lost' as const), desired: unknown ? t.desired : ('stopped' as const), error, updatedAt: now };
  });
  mc.journal.tx(() => {
    store.putNode({ ...node, status: 'down', updatedAt: now });
    mc.journal.event('node.status', s.id, { status: 'down' });
    store.putTasks(tasks);
    for (const t of tasks) mc.journal.event('task.state', t.id, { state: t.state, generation: t.generation, node: s.id });
  });
  const services = new Set<string>();
  for (const t of tasks) {
    if (t.state === 'lost') services.add(t.service);
    else scheduleLose(mc, ctx, next, t.id, t.generation, t.spec.disconnect.lostAfterMs ?? 0, t.spec.disconnect.replace === false);
  }
  for (const service of services) mc.tell(`/cluster/manager/services/${service}`, { type: 'reconcile' });
  return next;
}

/** An `unknown` task becomes `lost` (its slot re-placed) after `afterMs`, unless its node came back first; `replace: false` waits for the node. */
function scheduleLose(mc: ManagerContext, ctx: ActorContext, s: NodeState, id: string, generation: number, afterMs: number, never: boolean): void {
  if (never) return;
  const timer = mc.clock.setTimeout(() => ctx.tell({ type: 'lose', id, generation }), afterMs);
  s.loseTimers.set(id, timer);
}

/** `{ epoch }` for commands of an HA leader; nothing for a single manager. */
function epochField(mc: ManagerContext): { epoch?: number } {
  return mc.settings.epoch ? { epoch: mc.settings.epoch } : {};
}

function armCheck(mc: ManagerContext, ctx: ActorContext, s: NodeState): void {
  const due = mc.clock.now() + mc.settings.checkMs;
  s.checkTimer = mc.clock.setTimeout(() => ctx.tell({ type: 'check', due }), mc.settings.checkMs);
}

/**
 * Sends a stop once (until acknowledged, or the link closes). Unless the
 * worker itself just reported the copy running (`reported`), not for a task
 * already finished or stopped: a controller may ask again before the ack of
 * the first stop is written.
 */
function sendStop(mc: ManagerContext, s: NodeState, id: string, generation: number, ctx: ActorContext, reported = false): void {
  const key = `${id}@${generation}`;
  if (!s.link || s.stopping.has(key)) return;
  const t = reported ? undefined : mc.journal.store.getTask(id);
  if (t && t.generation === generation && isTerminal(t.state) && t.state !== 'lost') return;
  s.stopping.add(key);
  const link = s.link;
  afterCommit(mc.journal.store, () => link.command('stop', { cmdId: `stop:${id}:${generation}`, taskId: id, generation, ...epochField(mc) })).then(
    () => ctx.tell({ type: 'stopped', id, generation }),
    () => ctx.tell({ type: 'stop-failed', id, generation }),
  );
}

/** Sends a stop for every task on this node that is wanted stopped and not finished. */
function sendStops(mc: ManagerContext, s: NodeState, ctx: ActorContext): void {
  for (const t of mc.journal.store.listActiveTasks({ node: s.id })) {
    if (t.desired === 'stopped' && !isTerminal(t.state)) sendStop(mc, s, t.id, t.generation, ctx);
  }
}
