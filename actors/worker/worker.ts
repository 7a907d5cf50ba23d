/**
 * The worker: runs the tasks assigned to its node and keeps them running.
 *
 *   cluster        the process's root (actors/cluster)
 *   └─ worker      rest_for_one: when the runtime restarts, the tasks re-attach after it
 *      ├─ runtime  health gate of the engine; crashes when it goes away, restarts with backoff
 *      ├─ tasks    one_for_one, one actor per task, each with its restart policy
 *      └─ link     the link to the manager, when joined (actors/worker/link.ts); last, so its crash restarts it alone
 *
 * It can run on its own, driven in-process (tests, a small script) before a
 * manager exists: `assign`, `stopTask`, `tasks`, `status`, `shutdown`.
 */
import { consola } from 'consola';
import type { Logger } from '../../lib/log.js';
import { GoatError, isGoatError } from '../../lib/errors.js';
import { canTransition, classifyError, classifyExit, isTerminal, normalizeTaskSpec, type TaskFailure, type TaskState } from '../../lib/model/index.js';
import { createRuntime, type Capacity, type ExitInfo, type Runtime, type RuntimeKind } from '../../lib/runtime/index.js';
import { WorkerState, type Assignment } from '../../lib/store/worker-state.js';
import { systemClock, type Clock, type Supervisor, type SupervisorEvent, type TreeNode, type PathHandle, type ChildSpec } from '../../lib/supervision/index.js';
import { actorChild, nactSupervisorChild, type NactRef } from '../supervision/index.js';
import { ClusterRoot, within } from '../cluster/index.js';
import { assignWanted, stoppedKey } from './assign-once.js';
import { sweepUnexplained } from './sweep.js';
import { taskChild, type TaskReport } from './task.js';
import type { LogRotation } from '../../lib/logs/index.js';

/** The worker's path in its process's tree. */
export const WORKER_PATH = '/cluster/worker';

/**
 * The budget of the worker's `tasks` supervisor: 1,000 task restarts within 10 s on the node. Task restarts are
 * paced by each task's own backoff (1 s doubling by default) and capped by its own budget (5 in 5 min by default,
 * then `failed` and re-placed by the manager), so even hundreds of tasks crash-looping together restart about once
 * a second each, far below 100 a second. Past that it is a hot loop — tasks with `backoff.initialMs: 0` and no
 * budget of their own, or a runtime failing every start at once — and `tasks` gives up, as an OTP supervisor past
 * its intensity: the worker restarts it (and `link` after it, rest_for_one) within its own budget, re-adopting what
 * still runs; past that budget the process ends with the chain.
 */
export const TASKS_BUDGET = Object.freeze({ maxRestarts: 1_000, windowMs: 10_000 });

/**
 * The budget of the worker itself: 50 restarts of its parts within a minute. Its parts restart on causes outside
 * it (an engine away: `runtime` with backoff up to 8 s, about 10 a minute; `tasks` past its own budget), so 50 in a
 * minute means restarting them does not help: the worker gives up, and with it the process (`cluster`'s budget is 0).
 */
export const WORKER_BUDGET = Object.freeze({ maxRestarts: 50, windowMs: 60_000 });

/** How a worker is started. */
export interface WorkerOptions {
  /** Where its node id, assignments and process-runtime files live. */
  dataDir: string;
  /** A human name for the node. @default its node id */
  name?: string;
  /** The cluster name, a label on everything it starts. @default 'goat' */
  cluster?: string;
  /** `auto` picks Docker when its engine answers, else processes if `allowProcess`. @default 'auto' */
  runtime?: 'auto' | RuntimeKind;
  /** Lets `auto` fall back to local processes (arbitrary commands as this user) when Docker does not answer. @default false */
  allowProcess?: boolean;
  /** Where it logs. @default consola tagged `goat:worker` */
  logger?: Logger;
  /** Size-based rotation of every task's log. @default 10 MiB × 3 files */
  logRotation?: Partial<LogRotation>;
  /** Where its supervisors, timestamps, link and self-fencing take time from. @default systemClock */
  clock?: Clock;
  /** The budget of its `tasks` supervisor. @default TASKS_BUDGET */
  tasksBudget?: { maxRestarts: number; windowMs: number };
  /** Backoff of the runtime actor while the engine is away. */
  runtimeBackoff?: { initialMs?: number; maxMs?: number };
  /** A runtime to use instead of choosing one (the deterministic simulation). */
  runtimeInstance?: { runtime: Runtime; kind: RuntimeKind };
  /** A state to use instead of `<dataDir>/worker.json` (the deterministic simulation). */
  state?: WorkerState;
  /**
   * The process's `cluster` root to start under, as `/cluster/worker` (`goat-cluster start`: beside the manager).
   * @default a root of its own (its own nact system), stopped with the worker
   */
  root?: ClusterRoot;
}

/** A task as the worker reports it. */
export interface TaskView {
  id: string;
  service: string;
  slot: number;
  generation: number;
  node: string;
  state: TaskState;
  /** Local restarts of this task. */
  restarts: number;
  lastExit: ExitInfo | null;
  /** True when this worker found it running and re-attached to it. */
  adopted: boolean;
  /** Published ports of its current run (`host` where to reach it); [] until it runs. */
  ports: { host?: number; container: number }[];
  /** Why it is not running now (a failed health check, a refusal, a spent budget); cleared once it runs. */
  error: { code?: string; message: string } | null;
  /** Its latest failure, classified (app, health, resource or runtime) and kept after it runs again; null if none yet. */
  failure: TaskFailure | null;
  /** Whether its current run passed its first health check (true from the start for a task without one); absent before it runs. */
  healthy?: boolean;
  createdAt: number;
  updatedAt: number;
}

/** What a worker emits: task state changes and its supervision events. */
export type WorkerEvent =
  | { type: 'task'; task: TaskView }
  | { type: 'node'; status: 'ready' | 'degraded' }
  | { type: 'supervision'; event: SupervisorEvent };

/** An assignment as given to {@link Worker.assign}. */
export interface AssignInput {
  /** A command id; a retried command with the same id is applied once. */
  cmdId?: string;
  taskId: string;
  service: string;
  slot: number;
  generation: number;
  spec: unknown;
}

/** A running worker. */
export class Worker {
  readonly #listeners = new Set<(e: WorkerEvent) => void>();
  readonly #tasks = new Map<string, TaskView>();
  /** Tasks whose `stopTask` is in progress. */
  readonly #stopping = new Set<string>();
  /** Command keys being applied right now (a re-sent command arriving meanwhile is not applied twice). */
  /** Keys of assigns being applied, each with the application's end (a copy of it waits for it, see `assign`). */
  readonly #applying = new Map<string, Promise<unknown>>();
  #tasksSup: Supervisor<NactRef> | null = null;
  /** The worker's own supervisor, `/cluster/worker`. */
  #root!: Supervisor<NactRef>;
  /** The process's root, `/cluster`. */
  #clusterRoot!: ClusterRoot;
  /** Whether the root is the worker's own (stopped with it). */
  #ownsRoot = false;
  #offBus: (() => void) | undefined;
  #status: 'ready' | 'degraded' = 'degraded';
  /** Set (to the worker's logger) while the boot sweep still has to run: the engine did not answer at boot. */
  #sweepPending: Logger | undefined;

  private constructor(
    readonly state: WorkerState,
    readonly runtime: Runtime,
    /** Which runtime it chose, and why; `refusesTasks` says why it takes no tasks while its engine does not answer. */
    readonly runtimeChoice: { kind: RuntimeKind; reason: string; refusesTasks?: string },
    readonly cluster: string,
    /** Where its timestamps come from. */
    private readonly clock: Clock,
  ) {}

  /** Starts a worker: its node id, its runtime, and every task assigned to it (adopting those already running). */
  static async start(options: WorkerOptions): Promise<Worker> {
    const state = options.state ?? await WorkerState.open(options.dataDir, options.name);
    const cluster = options.cluster ?? 'goat';
    const choice: { runtime: Runtime; kind: RuntimeKind; reason: string; refusesTasks?: string } = options.runtimeInstance
      ? { ...options.runtimeInstance, reason: 'given' }
      : await createRuntime({ runtime: options.runtime ?? 'auto', dataDir: options.dataDir, cluster, nodeId: state.nodeId, allowProcess: options.allowProcess === true, ...(options.logRotation ? { logRotation: options.logRotation } : {}) });
    const worker = new Worker(state, choice.runtime, { kind: choice.kind, reason: choice.reason, ...(choice.refusesTasks ? { refusesTasks: choice.refusesTasks } : {}) }, cluster, options.clock ?? systemClock);
    const log = options.logger ?? consola.withTag('goat:worker');
    log.info(`node ${state.name} (${state.nodeId}): ${choice.kind} runtime — ${choice.reason}`);
    const sweep = await sweepUnexplained(choice.runtime, state.assignments(), log);
    if (sweep.skipped !== undefined) {
      // The engine does not answer: the sweep runs when it first does, before the runtime is ready (see #runtimeGate).
      worker.#sweepPending = log;
      log.warn(`the runtime does not answer (${sweep.skipped}): what this worker's record does not explain is swept once it does`);
    }
    for (const a of state.assignments()) worker.#track(a);
    await worker.#boot(options);
    return worker;
  }

  get nodeId(): string {
    return this.state.nodeId;
  }

  /** `ready` while the runtime answers, else `degraded`. */
  get status(): 'ready' | 'degraded' {
    return this.#status;
  }

  /** Listens to task changes, node status and supervision events; returns the unsubscribe function. */
  subscribe(listener: (e: WorkerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every task this worker knows, in assignment order. */
  tasks(): TaskView[] {
    return [...this.#tasks.values()].map((t) => ({ ...t }));
  }

  /** One task, or undefined. */
  task(id: string): TaskView | undefined {
    const t = this.#tasks.get(id);
    return t ? { ...t } : undefined;
  }

  /** The supervision tree below this worker. */
  tree(): TreeNode {
    return this.#root.snapshot();
  }

  /** Resolves once the worker's root supervisor gave up: its error and the chain of failures that led there. */
  whenFailed(): Promise<{ error: GoatError; chain: string }> {
    return this.#clusterRoot.whenFailed();
  }

  /** Adds a child under the worker's root, after `runtime` and `tasks` (rest_for_one: its crash restarts it alone). */
  async supervise(spec: ChildSpec<NactRef>): Promise<void> {
    await this.#root.startChild(spec);
  }

  /** Any path of its tree, for the admin channel's `info`, `state`, `kill`, `send` and `ask`. */
  inspect(path: string): PathHandle | undefined {
    return this.#root.inspect(path);
  }

  /** CPUs, memory and free disk of this node. */
  capacity(): Promise<Capacity> {
    return this.runtime.capacity();
  }

  /** What its running tasks use now: how many, resident memory (MiB) and CPU time (s) summed. */
  async usage(): Promise<{ tasks: number; memoryMb: number; cpuSeconds: number }> {
    const running = [...this.#tasks.values()].filter((t) => t.state === 'running');
    const stats = await Promise.all(running.map((t) => this.runtime.stats(t.id, t.generation).catch(() => undefined)));
    const live = stats.filter((s) => s !== undefined);
    return {
      tasks: live.length,
      memoryMb: live.reduce((sum, s) => sum + s.memoryMb, 0),
      cpuSeconds: live.reduce((sum, s) => sum + s.cpuSeconds, 0),
    };
  }

  /**
   * Runs a task here. Each (task, generation) — and each command id — is
   * applied at most once: a retried command answers `{ applied: false }`.
   */
  async assign(input: AssignInput): Promise<{ applied: boolean }> {
    const keys = [`${input.taskId}@${input.generation}`, ...(input.cmdId ? [`cmd:${input.cmdId}`] : [])];
    const inFlight = keys.map((k) => this.#applying.get(k)).find((p) => p !== undefined);
    if (inFlight) {
      // A copy of an assign being applied (a re-send after a re-link): answered once the first one is recorded, tracked
      // and started, so the manager never reads this `applied: false` as "had it, and no longer has it".
      await inFlight.catch(() => undefined);
      return { applied: false };
    }
    if (!assignWanted(this.state, input.taskId, input.generation, keys)) return { applied: false };
    const applying = this.#apply(input, keys);
    for (const k of keys) this.#applying.set(k, applying);
    try {
      return await applying;
    } finally {
      for (const k of keys) this.#applying.delete(k);
    }
  }

  /** Why this node takes no tasks now (`auto` without Docker and without --allow-process, while Docker does not answer); undefined when it takes them. */
  get unavailable(): string | undefined {
    return this.runtimeChoice.refusesTasks && this.#status !== 'ready' ? `takes no tasks: ${this.runtimeChoice.refusesTasks}` : undefined;
  }

  /** Records, tracks and starts an assign found wanted. */
  async #apply(input: AssignInput, keys: string[]): Promise<{ applied: boolean }> {
    const a: Assignment = { taskId: input.taskId, service: input.service, slot: input.slot, generation: input.generation, spec: normalizeTaskSpec(input.spec) };
    await this.state.assign(a, keys);
    this.#track(a);
    if (this.runtimeChoice.refusesTasks && this.#status !== 'ready') {
      // `auto` without Docker and without --allow-process: refused (and reported), so the manager places it elsewhere.
      const error = new GoatError('GOAT_ERR_RESOURCE', `node ${this.state.name} takes no tasks: ${this.runtimeChoice.refusesTasks}`, { details: { resource: 'runtime' } });
      this.#onReport({ type: 'refused', taskId: a.taskId, error });
      return { applied: true };
    }
    // A tasks supervisor being (re)started took its children from the assignments before this one, or after it.
    const sup = this.#tasksSup;
    if ((sup?.state === 'running' || sup?.state === 'new') && !sup.childIds().includes(a.taskId)) await sup.startChild(this.#taskSpec(a));
    return { applied: true };
  }

  /** Stops a task on purpose (its container or process too) and forgets it. */
  async stopTask(taskId: string, cmdId?: string): Promise<void> {
    const view = this.#tasks.get(taskId);
    if (!view) throw new GoatError('GOAT_ERR_NO_SUCH_TASK', `no task ${taskId} on node ${this.nodeId}`, { details: { taskId } });
    this.#stopping.add(taskId);
    try {
      await this.#stop(taskId, view, cmdId);
    } finally {
      this.#stopping.delete(taskId);
    }
  }

  async #stop(taskId: string, view: TaskView, cmdId?: string): Promise<void> {
    const timeout = this.state.assignments().find((a) => a.taskId === taskId)?.spec.stopTimeoutMs ?? 10_000;
    await this.state.unassign(taskId, [...(cmdId ? [`cmd:${cmdId}`] : []), stoppedKey(taskId, view.generation)]);
    // Through the supervisor's queue even when the child is not there yet: an assign's start still queued behind
    // it must not start the task after this stop (found by the simulation, seed 2: a stop overtook its assign).
    await this.#tasksSup?.stopChild(taskId).catch((err: unknown) => {
      if (!isGoatError(err, 'GOAT_ERR_NO_SUCH_CHILD')) throw err;
    });
    await this.runtime.stop(taskId, view.generation, timeout);
    // Stopped on purpose (stop, scale-down, rollout): nothing is left behind; the manager's task records are the history.
    await this.runtime.remove(taskId, view.generation).catch(() => undefined);
    this.#move(taskId, 'stopped');
    // Its container, or its process record, logs and folder (<data>/tasks/<task>-gN), go with it.
    await this.runtime.remove(taskId, view.generation).catch(() => undefined);
  }

  /**
   * Finishes the stops the engine refused while it was away: a task this
   * worker stopped is out of its record at once (a restarted worker's boot
   * sweep removes it), but while the same worker runs, its copy would go on
   * running unwatched and be reported `unknown` for good — found by the
   * simulation (seed 97: a task self-fenced while Docker was lost kept its
   * slot empty). Run once the engine answers again.
   */
  async #finishStops(): Promise<void> {
    const recorded = new Set(this.state.assignments().map((a) => a.taskId));
    for (const t of [...this.#tasks.values()]) {
      if (recorded.has(t.id) || isTerminal(t.state) || this.#stopping.has(t.id)) continue;
      try {
        await this.runtime.stop(t.id, t.generation, 10_000);
        await this.runtime.remove(t.id, t.generation);
      } catch {
        continue; // the engine went away again: next time it is back
      }
      if (!this.state.assignments().some((a) => a.taskId === t.id)) this.#move(t.id, 'stopped');
    }
  }

  /** Stops the worker's actors; its tasks keep running, to be adopted by the next worker on this data dir. */
  async shutdown(): Promise<void> {
    await this.#clusterRoot.remove('worker');
    this.#offBus?.();
    await this.runtime.close();
    if (this.#ownsRoot) await this.#clusterRoot.stop();
  }

  // --- internals -------------------------------------------------------------

  async #boot(options: WorkerOptions): Promise<void> {
    this.#ownsRoot = options.root === undefined;
    this.#clusterRoot = options.root ?? await ClusterRoot.start({ clock: this.clock });
    this.#offBus = this.#clusterRoot.bus.subscribe((event) => {
      if (within(event.path, WORKER_PATH)) this.#onSupervision(event);
    });
    try {
      this.#root = await this.#clusterRoot.add({
        id: 'worker', strategy: 'rest_for_one', ...WORKER_BUDGET,
        children: [
          this.#runtimeGate(options),
          nactSupervisorChild({
            id: 'tasks', ...(options.tasksBudget ?? TASKS_BUDGET),
            children: () => this.state.assignments().map((a) => this.#taskSpec(a)),
            // Known from its creation: a stop or an assign arriving while it (re)starts its children must reach it,
            // not the incarnation before it (found by the simulation, seed 1: a stopped task restarted by its own actor).
            onCreated: (sup) => (this.#tasksSup = sup),
          }),
        ],
      });
    } catch (err) {
      this.#offBus?.();
      if (this.#ownsRoot) await this.#clusterRoot.stop();
      throw err;
    }
  }

  /** The runtime actor: running while the engine answers; its crash takes the tasks down with it (rest_for_one). */
  #runtimeGate(options: WorkerOptions) {
    let off: (() => void) | null = null;
    return actorChild<null, { type: 'lost'; detail: string }>({
      id: 'runtime',
      backoff: { initialMs: options.runtimeBackoff?.initialMs ?? 500, maxMs: options.runtimeBackoff?.maxMs ?? 8_000, factor: 2, jitter: 0.2, resetAfterMs: 30_000 },
      init: async (ctx) => {
        const health = await this.runtime.health();
        if (!health.ok) throw new GoatError('GOAT_ERR_RUNTIME_UNAVAILABLE', `${this.runtime.kind} runtime unavailable: ${health.detail}`, { temporary: true });
        const sweepLog = this.#sweepPending;
        if (sweepLog) {
          // The boot sweep the engine's absence put off, before this node is ready (and before the tasks re-attach).
          const sweep = await sweepUnexplained(this.runtime, this.state.assignments(), sweepLog);
          if (sweep.skipped !== undefined) throw new GoatError('GOAT_ERR_RUNTIME_UNAVAILABLE', `${this.runtime.kind} runtime unavailable: ${sweep.skipped}`, { temporary: true });
          this.#sweepPending = undefined;
        }
        this.#setStatus('ready');
        void this.#finishStops();
        off?.();
        off = this.runtime.onHealth((h) => {
          if (!h.ok) ctx.tell({ type: 'lost', detail: h.detail });
        });
        return null;
      },
      receive: (_state, msg) => {
        throw new GoatError('GOAT_ERR_RUNTIME_UNAVAILABLE', `${this.runtime.kind} runtime went away: ${msg.detail}`, { temporary: true });
      },
      // Runs on crashes too: the next incarnation subscribes afresh.
      terminate: () => {
        off?.();
        off = null;
      },
    });
  }

  #taskSpec(a: Assignment) {
    return taskChild(a, { runtime: () => this.runtime, cluster: this.cluster, nodeId: this.nodeId, report: (r) => this.#onReport(r) });
  }

  #track(a: Assignment): void {
    const now = this.clock.now();
    this.#tasks.set(a.taskId, {
      id: a.taskId, service: a.service, slot: a.slot, generation: a.generation, node: this.nodeId, state: 'assigned',
      restarts: 0, lastExit: null, adopted: false, ports: [], error: null, failure: null, createdAt: now, updatedAt: now,
    });
  }

  #onReport(r: TaskReport): void {
    switch (r.type) {
      case 'starting': {
        const view = this.#tasks.get(r.taskId);
        if (!view) return;
        // A new run: healthy again only once it runs (and passes its first health check).
        delete view.healthy;
        // A task that exited and starts again without a restart of its own (the tasks supervisor restarted with the
        // engine, its children afresh) restarts all the same: it stayed `exited` in everyone's eyes while it ran (found by
        // the simulation, CI seeds 326 and 623: a task starting as the engine went away).
        if (view.state === 'exited') {
          view.restarts += 1;
          this.#move(r.taskId, 'restarting');
        }
        return this.#move(r.taskId, 'starting');
      }
      case 'running':
        return this.#move(r.taskId, 'running', { adopted: r.run.adopted, error: null, ports: r.run.ports.map((p) => ({ ...p })), healthy: r.healthy });
      case 'healthy':
        return this.#move(r.taskId, 'running', { healthy: true });
      case 'exited':
        return this.#move(r.taskId, 'exited', { lastExit: r.exit, ...(r.exit.code === 0 && !r.exit.oomKilled ? {} : { failure: classifyExit(r.exit) }) });
      case 'unhealthy': {
        const error = { code: 'GOAT_ERR_TASK_UNHEALTHY', message: r.detail };
        return this.#move(r.taskId, 'exited', { error, failure: classifyError(error) });
      }
      case 'refused':
        this.#move(r.taskId, 'failed', { error: r.error.toJSON(), failure: classifyError(r.error) });
        // Not retried here: a resource failure is for the manager to place elsewhere.
        void this.state.unassign(r.taskId, [stoppedKey(r.taskId, this.#tasks.get(r.taskId)?.generation ?? 0)]).then(() => this.#tasksSup?.stopChild(r.taskId)).catch(() => undefined);
        return;
    }
  }

  #onSupervision(event: SupervisorEvent): void {
    this.#emit({ type: 'supervision', event });
    if (event.path === `${WORKER_PATH}/runtime`) {
      if (event.type === 'child_crashed') {
        this.#setStatus('degraded');
        // The engine is gone: what runs there is unknown until the tasks re-attach after it.
        const failure = classifyError({ code: 'GOAT_ERR_RUNTIME_UNAVAILABLE', message: event.error.message });
        for (const t of this.#tasks.values()) if (t.state === 'running' || t.state === 'starting') this.#move(t.id, 'unknown', { failure });
      }
      if (event.type === 'restart_scheduled') this.#setStatus('degraded');
      return;
    }
    const prefix = `${WORKER_PATH}/tasks/`;
    if (!event.path.startsWith(prefix)) return;
    const id = event.path.slice(prefix.length);
    const view = this.#tasks.get(id);
    if (!view) return;
    switch (event.type) {
      case 'child_crashed':
        // A crash while starting (the runtime refused to start it): classify it; exits report themselves.
        if (view.state === 'starting') return this.#move(id, 'exited', { error: event.error, failure: classifyError(event.error) });
        return;
      case 'restart_scheduled':
        view.restarts += 1;
        return this.#move(id, 'restarting');
      case 'budget_exceeded':
        return this.#move(id, 'failed', { error: { code: 'GOAT_ERR_BUDGET_EXCEEDED', message: event.why } });
      case 'child_stopped':
        if (event.reason === 'normal') return this.#move(id, 'completed');
        if (event.reason === 'failed' && view.state === 'exited') return this.#move(id, 'failed');
        return;
      default:
        return;
    }
  }

  #move(id: string, to: TaskState, extra: Partial<TaskView> = {}): void {
    const view = this.#tasks.get(id);
    if (!view) return;
    Object.assign(view, extra);
    if (view.state !== to && canTransition(view.state, to)) view.state = to;
    view.updatedAt = this.clock.now();
    this.#emit({ type: 'task', task: { ...view } });
  }

  #setStatus(status: 'ready' | 'degraded'): void {
    if (this.#status === status) return;
    this.#status = status;
    this.#emit({ type: 'node', status });
  }

  #emit(e: WorkerEvent): void {
    for (const l of this.#listeners) l(e);
  }
}
