/**
 * The manager's state and its one reconcile loop, shared by its actors.
 *
 * Event → mark → tick → reconcile (SwarmKit): API calls and link frames only
 * record what changed and mark the services concerned; one tick, soon after,
 * does the work — reconcile each marked service (how many tasks), place the
 * pending ones (where), and send what each node must run or stop. Writes are
 * committed to the store before anything is acknowledged or sent.
 */
import { nanoid } from 'nanoid';
import { GoatError } from '../../lib/errors.js';
import {
  FailureDetector, canTransition, classifyExit, isLive, isTerminal, normalizeServiceSpec, reconcileService,
  type ClusterEvent, type NodeRecord, type ServiceRecord, type ServiceState, type TaskRecord, type TaskState,
} from '../../lib/model/index.js';
import { SERVICE_DEFAULTS } from '../../lib/model/defaults.js';
import { buildNodeTable, place } from '../../lib/scheduler/index.js';
import type { Store } from '../../lib/store/index.js';
import { planted } from '../../lib/sim/planted.js';

/** A task as a worker reports it (hello and report frames). */
export interface ReportedTask {
  taskId: string;
  service: string;
  slot: number;
  generation: number;
  state: TaskState;
  restarts: number;
  lastExit?: { code: number | null; signal: string | null; oomKilled: boolean; message: string; finishedAt: number } | null | undefined;
  /** Why it failed, when it did (the worker's classification). */
  failure?: { kind: 'app' | 'health' | 'resource' | 'runtime'; message: string; code?: string | undefined } | null | undefined;
}

/** What the core needs of a worker's link: send commands, acknowledged. */
export interface NodeChannel {
  assign(task: TaskRecord): Promise<unknown>;
  stop(task: { id: string; generation: number }): Promise<unknown>;
  /** Closes the link (a node declared down while still linked must say hello again). */
  close?(reason: string): void;
}

/** Options of the core. */
export interface CoreOptions {
  store: Store;
  /** A node silent this long (from its last heartbeat, the manager's own stalls discounted) is `down` and its tasks are re-placed. @default 4000 */
  downAfterMs?: number;
  /** The heartbeat interval workers are told. @default 1000 */
  heartbeatMs?: number;
  /** A node silent this long is `suspect`: no new placements. @default 2 × heartbeatMs */
  suspectAfterMs?: number;
  /** How often nodes are checked (ms); the check's own lateness is the manager's event-loop lag. @default 250 */
  checkMs?: number;
  /** After a (re)start, no node is declared down during this grace. @default 2 × downAfterMs */
  recoveryGraceMs?: number;
  scorer?: 'spread' | 'binpack';
  /** Observes how long each placement round took (ms). */
  onPlacement?: (ms: number, placed: number) => void;
  /** Runs a tick inside the reconciler actor (so a failing tick is a supervised crash); `setImmediate` when absent. */
  runTick?: (tick: () => void) => void;
  /** Runs a placement round inside the scheduler actor; inline when absent. */
  runPlacement?: (round: () => void) => void;
  /** Hands a marked service to its replica controller (the `services/<name>` actor), which calls {@link ManagerCore.reconcileOne}; inline when absent. */
  reconcileVia?: (service: string) => void;
}

/** Heartbeats are written to the store together, at most this often (ms): `lastSeenAt` and `usage` in `nodes` lag by up to this. */
const HEARTBEAT_FLUSH_MS = 1_000;
/** At most this many tasks are placed (and their assigns sent) per tick. */
const MAX_PLACED_PER_TICK = 2_000;

/** The manager's state and loop. */
export class ManagerCore {
  readonly store: Store;
  readonly #links = new Map<string, NodeChannel>();
  /** Heartbeat arrival times (in memory, at once: not the buffered store write) and the verdicts they give. */
  readonly #detector: FailureDetector;
  /** Linked nodes this core marked `suspect` for silence: `ready` again at their next heartbeat. */
  readonly #silent = new Set<string>();
  readonly #checkMs: number;
  #checkTimer: NodeJS.Timeout | null = null;
  #nextCheckAt = 0;
  readonly #listeners = new Set<(e: ClusterEvent) => void>();
  readonly #dirty = new Set<string>();
  /** Stop commands sent and not yet acknowledged, by `taskId@generation`. */
  readonly #stopping = new Set<string>();
  #tickScheduled = false;
  #placeAll = true;
  /** Set when some task may need a stop sent (a stop decided, a node linked): saves scanning every task each tick. */
  #stopsDirty = true;
  #closed = false;
  /** Tasks `unknown` because their node is down, each waiting its `disconnect.lostAfterMs`. */
  readonly #unknownTimers = new Map<string, NodeJS.Timeout>();
  /** Services to reconcile again at a time (a rollout's monitor period or delay ends), by service. */
  readonly #wakeTimers = new Map<string, NodeJS.Timeout>();
  /** A placement round at the earliest `notBefore` of a pending task (a slot's reschedule backoff). */
  #placeTimer: { at: number; timer: NodeJS.Timeout } | null = null;
  /** Events of the transaction in progress: appended in one go at its end, heard by listeners after its commit. */
  #txEvents: Omit<ClusterEvent, 'seq'>[] = [];
  #txDepth = 0;
  /** Reports received since the last tick, applied together (one transaction) when it starts. */
  #reports: [string, ReportedTask[]][] = [];
  /** Heartbeats since the last flush, by node: written together once per {@link HEARTBEAT_FLUSH_MS}. */
  readonly #beats = new Map<string, { usage: NodeRecord['usage']; at: number }>();
  #beatTimer: NodeJS.Timeout | null = null;
  readonly #startedAt = Date.now();
  readonly #graceMs: number;
  /** Nodes loaded from the store at start, in their recovery grace until it ends or they link again. */
  readonly #inGrace = new Set<string>();

  constructor(readonly options: CoreOptions) {
    this.store = options.store;
    this.#detector = new FailureDetector({
      downAfterMs: options.downAfterMs ?? 4_000,
      ...(options.heartbeatMs === undefined ? {} : { intervalMs: options.heartbeatMs }),
      ...(options.suspectAfterMs === undefined ? {} : { suspectAfterMs: options.suspectAfterMs }),
    });
    this.#graceMs = options.recoveryGraceMs ?? 2 * this.#detector.downAfterMs;
    this.#checkMs = options.checkMs ?? 250;
    // Nodes known from before a restart: suspect until their workers say hello; none is declared down during the grace.
    for (const node of this.store.listNodes()) {
      if (node.status === 'down') continue;
      this.#suspect(node.id);
      this.#detector.heartbeat(node.id, this.#startedAt);
      this.#inGrace.add(node.id);
    }
    for (const s of this.store.listServices()) this.#dirty.add(s.name);
    this.#scheduleTick();
    this.#armCheck(this.#checkMs);
  }

  // --- desired state (API) ---------------------------------------------------

  /** Creates or updates a service; committed before it returns. */
  putService(body: unknown, name?: string): { record: ServiceRecord; created: boolean } {
    const spec = normalizeServiceSpec(name !== undefined && body && typeof body === 'object' && !('name' in body) ? { ...body, name } : body);
    if (name !== undefined && spec.name !== name) {
      throw new GoatError('GOAT_ERR_INVALID_SPEC', `invalid service spec: name: '${spec.name}' does not match the URL's '${name}'`, { details: { field: 'name' } });
    }
    const now = Date.now();
    const before = this.store.getService(spec.name);
    const record = this.#tx(() => {
      let r = this.store.putService(spec, now);
      if (!before || r.version !== before.version) this.#event('service.updated', spec.name, { version: r.version, replicas: spec.replicas });
      // The spec a rollback goes back to (Swarm's PreviousSpec): the one before the last change of the task.
      if (before && JSON.stringify(before.spec.task) !== JSON.stringify(r.spec.task)) r = this.#setServiceState(r, { previousSpec: before.spec });
      return r;
    });
    this.mark(spec.name);
    return { record, created: !before };
  }

  /**
   * Rolls a service back to its previous spec, with its `rollback` settings;
   * 409 GOAT_ERR_NO_PREVIOUS_SPEC when there is none.
   */
  rollbackService(name: string, message = 'rollback requested'): ServiceRecord {
    const s = this.#service(name);
    if (!s.previousSpec) {
      throw new GoatError('GOAT_ERR_NO_PREVIOUS_SPEC', `service '${name}' has no previous spec to roll back to`, { details: { service: name } });
    }
    const previous = s.previousSpec;
    const now = Date.now();
    const record = this.#tx(() => {
      const r = this.store.putService(previous, now);
      this.#event('service.updated', name, { version: r.version, replicas: previous.replicas });
      this.#event('update.rollback', name, { version: r.version, message });
      return this.#setServiceState(r, { previousSpec: null, update: { state: 'rolling_back', message, version: r.version, startedAt: now } });
    });
    this.mark(name);
    return record;
  }

  /** Merges `patch` into a service's stored state (inside a transaction); returns the record with it. */
  #setServiceState(r: ServiceRecord, patch: Partial<ServiceState>): ServiceRecord {
    const state: Partial<ServiceState> = {
      ...(r.previousSpec !== undefined ? { previousSpec: r.previousSpec } : {}),
      ...(r.update !== undefined ? { update: r.update } : {}),
      ...(r.status !== undefined ? { status: r.status } : {}),
      ...patch,
    };
    this.store.putServiceState(r.name, state);
    return { ...r, ...state };
  }

  /** Changes a service's replica count. */
  scaleService(name: string, replicas: number): ServiceRecord {
    const s = this.#service(name);
    return this.putService({ ...s.spec, replicas }).record;
  }

  /** Deletes a service; its tasks are stopped. */
  deleteService(name: string): boolean {
    const deleted = this.#tx(() => {
      const ok = this.store.deleteService(name);
      if (ok) this.#event('service.deleted', name, {});
      return ok;
    });
    if (deleted) this.mark(name);
    return deleted;
  }

  /** Drains a node: no new tasks; its tasks are stopped and re-placed elsewhere. */
  drainNode(id: string): NodeRecord {
    this.#applyQueuedReports();
    const node = this.store.getNode(id);
    if (!node) throw new GoatError('GOAT_ERR_NOT_FOUND', `no node '${id}'`, { details: { node: id } });
    const drained = { ...node, status: 'draining' as const, updatedAt: Date.now() };
    this.#tx(() => {
      this.store.putNode(drained);
      this.#event('node.status', id, { status: 'draining' });
      const stop = this.store.listActiveTasks({ node: id }).filter(isLive).map((t) => ({ ...t, desired: 'stopped' as const, updatedAt: Date.now() }));
      this.store.putTasks(stop);
      this.#stopsDirty = true;
      for (const t of stop) this.#dirty.add(t.service);
    });
    this.#scheduleTick();
    return drained;
  }

  /** Subscribes to the event log as it grows. */
  subscribe(listener: (e: ClusterEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // --- actual state (links) ----------------------------------------------------

  /** A worker linked (or re-linked): record the node, reconcile what it runs with what it should. */
  nodeLinked(hello: { nodeId: string; name: string; runtime: 'docker' | 'process'; capacity: NodeRecord['capacity']; labels: Record<string, string>; tasks: ReportedTask[] }, channel: NodeChannel): void {
    const now = Date.now();
    this.#links.set(hello.nodeId, channel);
    this.#detector.heartbeat(hello.nodeId, now);
    this.#silent.delete(hello.nodeId);
    this.#inGrace.delete(hello.nodeId); // it is back: from now on it is judged like any node
    const old = this.store.getNode(hello.nodeId);
    const node: NodeRecord = {
      id: hello.nodeId, name: hello.name, runtime: hello.runtime, labels: hello.labels, capacity: hello.capacity,
      status: old?.status === 'draining' ? 'draining' : 'ready',
      usage: old?.usage ?? { tasks: 0, memoryMb: 0, cpuSeconds: 0 },
      lastSeenAt: now, createdAt: old?.createdAt ?? now, updatedAt: now,
    };
    const reported = new Set(hello.tasks.map((t) => `${t.taskId}@${t.generation}`));
    this.#applyQueuedReports(); // reports sent before this hello are older than it
    this.#tx(() => {
      this.store.putNode(node);
      if (old?.status !== node.status) this.#event('node.status', node.id, { status: node.status });
      this.#applyReports(node.id, hello.tasks);
    });
    // Seed 002: re-send the last desired state on every (re)connect. A task the node had started (or acknowledged
    // and then lost, answering `applied: false`) and no longer reports is gone from it: lost, its slot re-placed
    // (found by the simulation, seed 3: a worker fenced a task, restarted, and the slot stayed empty for good).
    const gone: TaskRecord[] = [];
    for (const t of this.store.listActiveTasks({ node: node.id })) {
      if (t.desired !== 'running' || isTerminal(t.state) || reported.has(`${t.id}@${t.generation}`)) continue;
      if (t.state !== 'assigned') {
        gone.push(t);
        continue;
      }
      void channel.assign(t).then((r) => {
        if (!(r as { applied?: boolean } | undefined)?.applied) this.#lostFromNode(node.id, t.id, t.generation);
      }, () => undefined);
    }
    for (const t of gone) this.#lostFromNode(node.id, t.id, t.generation);
    this.#placeAll = true;
    this.#stopsDirty = true;
    this.#scheduleTick();
  }

  /** A worker's heartbeat: it is alive; usage for `nodes`. */
  heartbeat(nodeId: string, usage: NodeRecord['usage']): void {
    const now = Date.now();
    this.#detector.heartbeat(nodeId, now);
    if (this.#silent.delete(nodeId) && this.#links.has(nodeId)) this.#setStatus(nodeId, 'suspect', 'ready');
    this.#beats.set(nodeId, { usage, at: now });
    if (this.#beatTimer === null && !this.#closed) {
      this.#beatTimer = setTimeout(() => this.#flushBeats(), HEARTBEAT_FLUSH_MS);
      this.#beatTimer.unref();
    }
  }

  /** Writes the buffered heartbeats (usage, lastSeenAt) in one transaction, onto the nodes as they are now. */
  #flushBeats(): void {
    if (this.#beatTimer !== null) clearTimeout(this.#beatTimer);
    this.#beatTimer = null;
    if (this.#beats.size === 0) return;
    const beats = [...this.#beats];
    this.#beats.clear();
    this.#tx(() => {
      for (const [id, b] of beats) {
        const node = this.store.getNode(id);
        if (node) this.store.putNode({ ...node, usage: b.usage, lastSeenAt: b.at });
      }
    });
  }

  /** Task state changes a worker reports. */
  report(nodeId: string, tasks: ReportedTask[]): void {
    this.#reports.push([nodeId, tasks]);
    this.#scheduleTick();
  }

  /** Applies the queued reports, oldest first, in one transaction (a report is not acknowledged: nothing waits on it). */
  #applyQueuedReports(): void {
    if (this.#reports.length === 0) return;
    const queued = this.#reports;
    this.#reports = [];
    this.#tx(() => {
      for (const [nodeId, tasks] of queued) this.#applyReports(nodeId, tasks);
    });
  }

  /** A worker's link closed: `suspect` at once; `down` when the detector says so, counted from its last heartbeat (not from the close). */
  nodeUnlinked(nodeId: string, channel: NodeChannel): void {
    if (this.#links.get(nodeId) !== channel) return;
    this.#links.delete(nodeId);
    this.#silent.delete(nodeId);
    this.#suspect(nodeId);
  }

  /** Moves a node from status `from` to `to` (and says so), when it is still `from`. */
  #setStatus(nodeId: string, from: NodeRecord['status'], to: NodeRecord['status']): void {
    const node = this.store.getNode(nodeId);
    if (!node || node.status !== from) return;
    this.#tx(() => {
      this.store.putNode({ ...node, status: to, updatedAt: Date.now() });
      this.#event('node.status', nodeId, { status: to });
    });
    if (to === 'ready') {
      this.#placeAll = true;
      this.#scheduleTick();
    }
  }

  #armCheck(ms: number): void {
    if (this.#closed) return;
    this.#nextCheckAt = Date.now() + ms;
    this.#checkTimer = setTimeout(() => this.checkNodes(), ms);
    this.#checkTimer.unref();
  }

  /**
   * The periodic check: how late it runs is the manager's own event-loop lag,
   * given to the detector first; then silent linked nodes become `suspect`,
   * and nodes silent past the down timeout `down` (never during the recovery grace).
   */
  checkNodes(now = Date.now()): void {
    if (this.#closed) return;
    const late = now - this.#nextCheckAt;
    if (late > 0) this.#detector.stall(now, late);
    // The grace covers only nodes known from before this start, not those that linked since.
    const graceOver = planted.skipRecoveryGrace || now - this.#startedAt >= this.#graceMs;
    if (graceOver) this.#inGrace.clear();
    for (const id of this.#detector.nodes()) {
      const verdict = this.#detector.status(id, now);
      if ((verdict === 'down' || (planted.replaceBeforeDown && verdict === 'suspect')) && !this.#inGrace.has(id)) this.#nodeDown(id);
      else if (verdict !== 'ready' && this.#links.has(id) && !this.#silent.has(id)) {
        this.#silent.add(id);
        this.#suspect(id);
      }
    }
    this.#armCheck(this.#checkMs);
  }

  /** Not linked (yet): no new placements; `down` follows unless it comes back. A draining node stays draining. */
  #suspect(nodeId: string): void {
    const node = this.store.getNode(nodeId);
    if (!node || (node.status !== 'ready' && node.status !== 'degraded')) return;
    this.#tx(() => {
      this.store.putNode({ ...node, status: 'suspect', updatedAt: Date.now() });
      this.#event('node.status', nodeId, { status: 'suspect' });
    });
  }

  /** Marks a service for the next tick. */
  mark(service: string): void {
    this.#dirty.add(service);
    this.#scheduleTick();
  }

  /** Stops timers. */
  close(): void {
    if (!this.#closed) {
      this.#applyQueuedReports();
      this.#flushBeats();
    }
    this.#closed = true;
    if (this.#checkTimer !== null) clearTimeout(this.#checkTimer);
    for (const t of this.#unknownTimers.values()) clearTimeout(t);
    for (const t of this.#wakeTimers.values()) clearTimeout(t);
    if (this.#placeTimer) clearTimeout(this.#placeTimer.timer);
  }

  /** Is node `id` linked right now? */
  isLinked(id: string): boolean {
    return this.#links.has(id);
  }

  /** When this manager started (ms since the epoch). */
  get startedAt(): number {
    return this.#startedAt;
  }

  // --- the loop ----------------------------------------------------------------

  #scheduleTick(): void {
    if (this.#tickScheduled || this.#closed) return;
    this.#tickScheduled = true;
    const run = (): void => {
      this.#tickScheduled = false;
      if (!this.#closed) this.tick();
    };
    // Through the reconciler actor when there is one: a tick that throws crashes it, and its supervisor restarts it.
    if (this.options.runTick) this.options.runTick(run);
    else setImmediate(run);
  }

  /** Asks for a tick soon (the reconciler does this after a restart). */
  requestTick(): void {
    this.#scheduleTick();
  }

  /** One round: apply reports, reconcile marked services, then place pending tasks and send starts and stops. */
  tick(): void {
    this.#applyQueuedReports();
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    for (const name of dirty) {
      if (this.options.reconcileVia) this.options.reconcileVia(name);
      else this.#reconcile(name);
    }
    if (!this.#placeAll && !this.#stopsDirty) return;
    if (this.options.runPlacement) this.options.runPlacement(() => this.placementRound());
    else this.placementRound();
  }

  /** Places what is pending and sends what must start or stop (the scheduler actor runs this). */
  placementRound(): void {
    if (this.#closed) return;
    if (this.#placeAll) {
      this.#placeAll = false;
      this.#placePending(Date.now());
    }
    if (this.#stopsDirty) {
      this.#stopsDirty = false;
      this.#sendStops();
    }
  }

  /** Reconciles one service now (its `services/<name>` actor calls this), then schedules placement. */
  reconcileOne(name: string): void {
    this.#reconcile(name);
    this.#scheduleTick();
  }

  /**
   * How many tasks the service needs and which to stop, the slots'
   * reschedule backoff and the rollout's next step, written in one
   * transaction; then the history past `taskHistory` is deleted.
   */
  #reconcile(name: string): void {
    const now = Date.now();
    let rollback: string | undefined;
    let wakeAt: number | undefined;
    this.#tx(() => {
      const service = this.store.getService(name);
      // The service's tasks are its live ones and a bounded history (taskHistory per slot).
      const r = reconcileService(name, service, this.store.listTasks({ service: name }), now, (s, slot) => `${s}.${slot}.${nanoid(10).replace(/[^A-Za-z0-9]/g, 'x')}`);
      const stops = r.stop.map((id) => this.store.getTask(id)).filter((t): t is TaskRecord => t !== undefined)
        .map((t) => (t.node === null ? { ...t, desired: 'stopped' as const, state: 'stopped' as const, updatedAt: now } : { ...t, desired: 'stopped' as const, updatedAt: now }));
      this.store.putTasks([...r.create, ...stops]);
      if (stops.length > 0) this.#stopsDirty = true;
      for (const t of r.create) this.#event('task.state', t.id, { service: t.service, slot: t.slot, generation: t.generation, state: t.state, ...(t.notBefore ? { notBefore: t.notBefore } : {}) });
      for (const e of r.events ?? []) this.#event(e.type, e.subject, e.data);
      if (r.create.length > 0) this.#placeAll = true;
      if (service && (r.update !== undefined || r.status !== undefined)) {
        this.#setServiceState(service, { ...(r.update !== undefined ? { update: r.update } : {}), ...(r.status ? { status: r.status } : {}) });
      }
      this.store.pruneTaskHistory(name, service?.spec.taskHistory ?? SERVICE_DEFAULTS.taskHistory);
      rollback = r.rollback;
      wakeAt = r.wakeAt;
    });
    if (rollback !== undefined) this.rollbackService(name, rollback);
    if (wakeAt !== undefined) this.#wakeAt(name, wakeAt);
  }

  /** Reconciles `name` again at `at` (one timer per service: the earliest wins). */
  #wakeAt(name: string, at: number): void {
    if (this.#closed) return;
    const old = this.#wakeTimers.get(name);
    if (old) clearTimeout(old);
    const timer = setTimeout(() => {
      this.#wakeTimers.delete(name);
      this.mark(name);
    }, Math.max(0, at - Date.now()));
    timer.unref();
    this.#wakeTimers.set(name, timer);
  }

  #placePending(now: number): void {
    // A slot in its reschedule backoff waits: a round is set for when the first of them may go.
    let nextAt = Infinity;
    const waiting = this.store.listTasks({ state: 'pending' }).filter((t) => {
      if (t.desired !== 'running') return false;
      if (t.notBefore !== undefined && t.notBefore > now) {
        nextAt = Math.min(nextAt, t.notBefore);
        return false;
      }
      return true;
    });
    if (nextAt !== Infinity) this.#placeAt(nextAt);
    if (waiting.length === 0) return;
    // A bounded round, so that a burst (10,000 tasks at once) never stalls heartbeats and the API for seconds: the rest next tick.
    const pending = waiting.length > MAX_PLACED_PER_TICK ? waiting.slice(0, MAX_PLACED_PER_TICK) : waiting;
    if (pending.length < waiting.length) {
      this.#placeAll = true;
      this.#scheduleTick();
    }
    const started = performance.now();
    const nodes = this.store.listNodes().filter((n) => this.#links.has(n.id));
    const all = this.store.listActiveTasks().filter((t) => t.node !== null && isLive(t));
    const result = place(pending.map((t) => ({ taskId: t.id, service: t.service, slot: t.slot, spec: t.spec, ...(t.avoid ? { avoid: t.avoid } : {}) })), buildNodeTable(nodes, all), { scorer: this.options.scorer ?? 'spread' });
    const byId = new Map(pending.map((t) => [t.id, t]));
    const assigned: TaskRecord[] = [];
    this.#tx(() => {
      for (const p of result.placements) {
        const t = byId.get(p.taskId)!;
        const { notBefore: _n, avoid: _a, ...rest } = t;
        const next = { ...rest, node: p.node, state: 'assigned' as const, error: null, updatedAt: now };
        assigned.push(next);
        this.#event('task.state', t.id, { state: 'assigned', node: p.node, generation: t.generation });
      }
      const unplaced = result.unplaced.map((u) => ({ ...byId.get(u.taskId)!, error: { code: 'GOAT_ERR_RESOURCE', message: u.reason }, updatedAt: now }));
      this.store.putTasks([...assigned, ...unplaced]);
    });
    this.options.onPlacement?.(performance.now() - started, assigned.length);
    for (const t of assigned) void this.#links.get(t.node!)?.assign(t).catch(() => undefined);
  }

  /** A placement round at `at` (the earliest wins). */
  #placeAt(at: number): void {
    if (this.#closed || (this.#placeTimer && this.#placeTimer.at <= at && this.#placeTimer.at > Date.now())) return;
    if (this.#placeTimer) clearTimeout(this.#placeTimer.timer);
    const timer = setTimeout(() => {
      this.#placeTimer = null;
      this.#placeAll = true;
      this.#scheduleTick();
    }, Math.max(0, at - Date.now()));
    timer.unref();
    this.#placeTimer = { at, timer };
  }

  #sendStops(): void {
    for (const t of this.store.listActiveTasks()) {
      if (t.desired !== 'stopped' || t.node === null || isTerminal(t.state)) continue;
      const key = `${t.id}@${t.generation}`;
      const link = this.#links.get(t.node);
      if (!link || this.#stopping.has(key)) continue;
      this.#stopping.add(key);
      link.stop({ id: t.id, generation: t.generation }).then(
        () => this.#stopped(t.id, t.generation),
        () => {
          this.#stopping.delete(key);
          this.#stopsDirty = true; // the link closed first: try again when it is back
        },
      );
    }
  }

  #stopped(id: string, generation: number): void {
    this.#stopping.delete(`${id}@${generation}`);
    const t = this.store.getTask(id);
    if (!t || t.generation !== generation || isTerminal(t.state)) return;
    this.#tx(() => {
      this.store.putTasks([{ ...t, state: 'stopped', updatedAt: Date.now() }]);
      this.#event('task.state', id, { state: 'stopped', generation });
    });
    this.mark(t.service);
  }

  /** Applies reported task states; stops what this node should not run (stale generations, unknown tasks). */
  #applyReports(nodeId: string, reports: ReportedTask[]): void {
    const now = Date.now();
    const link = this.#links.get(nodeId);
    for (const r of reports) {
      const t = this.store.getTask(r.taskId);
      // A task the manager gave up on (lost while its node was down: its slot was re-placed) is not wanted back.
      const wanted = t && t.generation === r.generation && t.node === nodeId && t.desired === 'running' && !isTerminal(t.state);
      if (!wanted) {
        // A copy the manager no longer wants here (replaced while cut off, or unknown): stop it, never the current one.
        if (!isTerminal(r.state)) void link?.stop({ id: r.taskId, generation: r.generation }).catch(() => undefined);
        if (t && t.generation === r.generation && t.node === nodeId && t.desired === 'stopped' && isTerminal(r.state) && canTransition(t.state, r.state)) {
          this.store.putTasks([{ ...t, state: r.state, updatedAt: now }]);
        }
        continue;
      }
      const state = r.state;
      const lastExit = r.lastExit ? { code: r.lastExit.code, signal: r.lastExit.signal, oomKilled: r.lastExit.oomKilled, message: r.lastExit.message, finishedAt: r.lastExit.finishedAt } : t.lastExit;
      const moved = state !== t.state && canTransition(t.state, state);
      if (!moved && r.restarts === t.restarts && lastExit === t.lastExit) continue;
      const failure = r.failure ? { kind: r.failure.kind, message: r.failure.message, ...(r.failure.code ? { code: r.failure.code } : {}) }
        : r.lastExit ? (classifyExit(r.lastExit) ?? t.failure) : t.failure;
      const next: TaskRecord = {
        ...t, state: moved ? state : t.state, restarts: r.restarts, lastExit, failure, updatedAt: now,
        ...(moved && state === 'running' ? { runningSince: now } : {}),
        // Every failed task says why: the failure, else the last exit.
        ...(moved && state === 'failed' && failure ? { error: { ...(failure.code ? { code: failure.code } : {}), message: failure.message } } : {}),
      };
      if (moved && state === 'failed' && !failure && !next.error) next.error = { message: lastExit?.message ?? 'failed on its node' };
      this.store.putTasks([next]);
      if (moved) this.#event('task.state', t.id, { state, generation: t.generation, node: nodeId, restarts: r.restarts, ...(state === 'failed' || state === 'exited' ? { failure: next.failure, error: next.error } : {}) });
      if (isTerminal(next.state)) this.#dirty.add(t.service);
    }
  }

  /** The node is down: its tasks are lost (their slots re-placed); a link it still has is closed, so that it says hello again. */
  #nodeDown(nodeId: string): void {
    this.#detector.forget(nodeId);
    this.#silent.delete(nodeId);
    const link = this.#links.get(nodeId);
    if (link) {
      this.#links.delete(nodeId);
      link.close?.('declared down: no heartbeat');
    }
    this.#applyQueuedReports();
    const node = this.store.getNode(nodeId);
    if (!node || node.status === 'down') return;
    const now = Date.now();
    this.#tx(() => {
      this.store.putNode({ ...node, status: 'down', updatedAt: now });
      this.#event('node.status', nodeId, { status: 'down' });
      const error = { code: 'GOAT_ERR_NODE_DOWN', message: `node ${node.name} is down` };
      const affected = this.store.listActiveTasks({ node: nodeId });
      // Per task (spec.disconnect): `replace: false` waits for the node (unknown, never re-placed);
      // `lostAfterMs` waits that long (unknown, then lost); by default the task is lost at once.
      const next = affected.map((t) => {
        const wait = t.spec.disconnect.replace === false || (t.spec.disconnect.lostAfterMs ?? 0) > 0;
        const unknown = wait && canTransition(t.state, 'unknown');
        // A lost task is replaced: no longer wanted running (its copy is stopped if its node returns).
        return { ...t, state: unknown ? ('unknown' as const) : ('lost' as const), desired: unknown ? t.desired : ('stopped' as const), error, updatedAt: now };
      });
      this.store.putTasks(next);
      for (const t of next) {
        this.#event('task.state', t.id, { state: t.state, generation: t.generation, node: nodeId });
        if (t.state === 'lost') this.#dirty.add(t.service);
        else if (t.spec.disconnect.replace !== false) this.#loseLater(t.id, t.generation, t.spec.disconnect.lostAfterMs ?? 0);
      }
    });
    this.#scheduleTick();
  }

  /** A task its node no longer has (not in its hello): `lost`, and its slot re-placed. */
  #lostFromNode(nodeId: string, id: string, generation: number): void {
    const t = this.store.getTask(id);
    if (this.#closed || !t || t.generation !== generation || t.node !== nodeId || t.desired !== 'running' || isTerminal(t.state)) return;
    this.#tx(() => {
      this.store.putTasks([{ ...t, state: 'lost', desired: 'stopped', error: { code: 'GOAT_ERR_NODE_DOWN', message: `node ${nodeId} no longer has this task` }, updatedAt: Date.now() }]);
      this.#event('task.state', id, { state: 'lost', generation, node: nodeId });
    });
    this.mark(t.service);
  }

  /** An `unknown` task (its node is down) becomes `lost`, and its slot re-placed, unless its node came back first. */
  #loseLater(id: string, generation: number, afterMs: number): void {
    const timer = setTimeout(() => {
      this.#unknownTimers.delete(id);
      const t = this.store.getTask(id);
      if (this.#closed || !t || t.generation !== generation || t.state !== 'unknown') return;
      this.#tx(() => {
        this.store.putTasks([{ ...t, state: 'lost', desired: 'stopped', updatedAt: Date.now() }]);
        this.#event('task.state', id, { state: 'lost', generation, node: t.node });
      });
      this.mark(t.service);
    }, afterMs);
    timer.unref();
    this.#unknownTimers.set(id, timer);
  }

  #service(name: string): ServiceRecord {
    const s = this.store.getService(name);
    if (!s) throw new GoatError('GOAT_ERR_NOT_FOUND', `no service '${name}'`, { details: { service: name } });
    return s;
  }

  /**
   * A store transaction whose events (see {@link #event}) are appended in one
   * `appendEvents` at its end — one insert batch and one trim of the log
   * instead of one per event — and heard by listeners once it committed.
   */
  #tx<T>(fn: () => T): T {
    const outer = this.#txDepth === 0;
    const mark = this.#txEvents.length;
    let appended: ClusterEvent[] = [];
    let result: T;
    this.#txDepth++;
    try {
      result = this.store.transaction(() => {
        const r = fn();
        if (outer && this.#txEvents.length > 0) appended = this.store.appendEvents(this.#txEvents);
        return r;
      });
    } catch (err) {
      this.#txEvents.length = mark;
      throw err;
    } finally {
      this.#txDepth--;
    }
    if (outer) {
      this.#txEvents = [];
      for (const event of appended) for (const l of this.#listeners) l(event);
    }
    return result;
  }

  #event(type: string, subject: string, data: Record<string, unknown>): void {
    if (this.#txDepth > 0) {
      this.#txEvents.push({ at: Date.now(), type, subject, data });
      return;
    }
    const [event] = this.store.appendEvents([{ at: Date.now(), type, subject, data }]);
    if (event) for (const l of this.#listeners) l(event);
  }
}
