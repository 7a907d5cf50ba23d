/**
 * The simulated cluster: one manager and N workers in this process, on the
 * {@link SimScheduler}, talking over the {@link SimNetwork}, running tasks
 * on {@link SimMachine}s.
 *
 * Real code: on the manager, the actor `Manager` (actors/manager: its nact
 * tree and supervision, the `store`, `scheduler`, `reconciler`,
 * `nodes/<id>` and `services/<name>` actors, their pure decisions in
 * lib/manager, the recovery grace, stops and re-placement) over the real
 * SQLite store (in memory, kept across manager restarts as a disk would
 * be, with group commit as the manager opens its file: each commit an event
 * of the manager's process), started with `http: false`, a growing epoch
 * per incarnation, and handed each socket through `Manager.acceptSocket`
 * (its own hello, cluster-id admission and welcome); the real
 * `LinkServer`/`ManagerLink` (hello, heartbeats, commands re-sent until acked). On each worker, `joinCluster`
 * — the real `Worker` (its nact supervision tree: runtime gate, tasks,
 * restart policies, backoff, budgets), `LinkClient` (reconnect backoff,
 * silence detection) and self-fencing. Faked: the engine
 * (lib/sim/runtime.ts), the sockets (lib/sim/network.ts), and the disk (the
 * worker's state and epoch files, kept in memory). nact runs on the
 * simulation's scheduler: it calls the global `setImmediate`/`setTimeout`,
 * which the guard (lib/sim/guard.ts) turns into the scheduler's events.
 */
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster, memoryClusterIds, memoryEpochs, type ClusterIdStore, type EpochStore, type JoinedWorker } from '../../actors/worker/join.js';
import { isLive, isRolling, type ClusterEvent } from '../model/index.js';
import { specKey } from '../model/slots.js';
import { planted } from './planted.js';
import { hostTimers } from '../supervision/index.js';
import { openSqliteStore, type Store } from '../store/index.js';
import { WorkerState } from '../store/worker-state.js';
import type { SimConfig, SimOp, SimServiceSpec, StoreFaultMode } from './config.js';
import { SimNetwork } from './network.js';
import { Observer, type ServiceWrite } from './observer.js';
import type { Prng } from './prng.js';
import { SimMachine } from './runtime.js';
import type { SimCtx, SimScheduler } from './scheduler.js';

// better-sqlite3 looks its native addon up on the disk when it opens its first database: once, here, before any run
// (the guard refuses the file system inside one).
openSqliteStore(':memory:').close();

/** The cluster token of every simulated run. */
const SIM_TOKEN = 'sim-token';

const silent = { info: (): void => undefined, warn: (): void => undefined };

/** An injected store failure (never a bug of Goat's). */
export class SimStoreFault extends Error {
  constructor(what: string) {
    super(`sim store fault: ${what}`);
    this.name = 'SimStoreFault';
  }
}

interface WorkerSlot {
  name: string;
  saved: { json?: string };
  /** The highest leader epoch it has seen: its `<dataDir>/epoch`, kept across its restarts, in memory. */
  epochs: EpochStore;
  /** The cluster id it remembers: its `<dataDir>/cluster-id`, kept across its restarts, in memory. */
  clusterIds: ClusterIdStore;
  machine: SimMachine;
  /** Its process's task record (WorkerState over `saved`). */
  state?: WorkerState;
  joined: JoinedWorker | null;
  ctx: SimCtx | null;
}

/** The cluster of one run. */
export class SimCluster {
  readonly net: SimNetwork;
  /** The manager's store, as the manager sees it (faults injected, events observed, never closed by it). */
  readonly store: Store;
  /** The in-memory database behind it: the manager's disk, kept across its restarts. */
  readonly #db: ReturnType<typeof openSqliteStore>;
  /** Events appended in the store's open group (shown to the observer when it commits). */
  readonly #groupEvents: ClusterEvent[] = [];
  readonly workers = new Map<string, WorkerSlot>();
  /** The running manager (null while it is down or starting). */
  manager: Manager | null = null;
  managerCtx: SimCtx | null = null;
  /** The random part of task ids, from the seed. */
  readonly #ids: Prng;
  /** A store fault armed for the next write transaction. */
  #storeFault: StoreFaultMode | null = null;
  readonly faults = new Map<string, number>();
  /** Copies (`node taskId@generation`) their workers decided to fence. */
  readonly #fenced = new Set<string>();
  readonly #restarts: (() => void)[] = [];
  /** The epoch of the last manager incarnation started (the first leads with 1). */
  #epoch = 0;

  constructor(
    readonly sched: SimScheduler,
    readonly cfg: SimConfig,
    readonly obs: Observer,
    readonly rng: Prng,
  ) {
    this.net = new SimNetwork(sched, rng.fork('net'), cfg.net);
    this.net.onDeliver = (from, to, text) => this.obs.delivered(from, to, text, this.workers.get(to)?.epochs.epoch ?? 0);
    sched.addNode('manager', { ...(cfg.clocks[0] ?? { rate: 1, offset: 0 }), earlyMs: cfg.earlyTimersMs ?? 0 });
    // Group commit, as the real manager opens its store: its commits are events of the simulation.
    this.#db = openSqliteStore(':memory:', {
      groupCommit: true,
      scheduleCommit: (commit) => this.#scheduleCommit(commit),
      onLost: (err) => {
        this.obs.log(`store: a group was not committed (${err instanceof Error ? err.message : String(err)})`);
        this.manager?.storeLost(); // as the manager's own store factory does
      },
    });
    this.store = this.#faulty(this.#db);
    this.#ids = rng.fork('ids');
    for (let i = 1; i <= cfg.workers; i++) {
      const name = `w${i}`;
      sched.addNode(name, { ...(cfg.clocks[i] ?? { rate: 1, offset: 0 }), earlyMs: cfg.earlyTimersMs ?? 0 });
      const machine = new SimMachine(name, sched, rng.fork(`machine:${name}`), cfg.runtime, {
        started: (node, inst, adopted) => obs.started(node, inst, adopted),
        stopped: (node, inst, how) => obs.stopped(node, inst, how, this.#fenced.has(`${node} ${inst.task.taskId}@${inst.task.generation}`) || this.#mayFence(node, inst.task.taskId)),
        note: (line) => obs.log(line),
      });
      this.workers.set(name, { name, saved: {}, epochs: memoryEpochs(), clusterIds: memoryClusterIds(), machine, joined: null, ctx: null });
    }
  }

  /** Starts the manager and every worker (their first events run at the start of the run). */
  boot(): void {
    this.startManager(false);
    for (const w of this.workers.values()) this.startWorker(w, false);
  }

  /**
   * Runs `fn` in process `ctx` as an event of its own, now: it and the
   * promise continuations it causes run in that process (its clock, its
   * randomness, its timers) before anything else happens.
   */
  #inProcess(ctx: SimCtx, fn: () => void): void {
    this.sched.post(ctx, 0, fn);
  }

  /**
   * The store, as the manager sees it. A write transaction fails when a
   * write error is armed. The events it appends are shown to the observer
   * once their group committed (an aborted group's never happened). A dead
   * manager process (the rest of the event it was killed in) can touch it no
   * more. Closing it (the `store` actor's terminate) leaves the database
   * open, as a file stays on disk.
   */
  #faulty(store: Store): Store {
    const refuseDead = (): void => {
      const c = this.sched.current;
      if (c.node === 'manager' && !this.sched.alive(c)) throw new SimStoreFault('the manager process is dead');
    };
    let depth = 0;
    const transaction = <T>(fn: () => T): T => {
      refuseDead();
      if (this.#takeFault('error')) throw new SimStoreFault('write failed (SQLITE_IOERR)');
      const mark = this.#groupEvents.length;
      depth++;
      let r: T;
      try {
        r = store.transaction(fn);
      } catch (err) {
        this.#groupEvents.length = mark; // rolled back
        throw err;
      } finally {
        depth--;
      }
      if (depth === 0 && !store.pending) this.#heard();
      return r;
    };
    const appendEvents = (events: Parameters<Store['appendEvents']>[0]): ClusterEvent[] => {
      refuseDead();
      const out = store.appendEvents(events);
      this.#groupEvents.push(...out);
      if (depth === 0 && !store.pending) this.#heard();
      return out;
    };
    const wrapped = new Map<PropertyKey, unknown>([['transaction', transaction], ['appendEvents', appendEvents], ['close', (): void => undefined]]);
    return new Proxy(store, {
      get(target, prop) {
        const known = wrapped.get(prop);
        if (known !== undefined) return known;
        const value = Reflect.get(target, prop) as unknown; // getters run on the store itself (its private fields)
        if (typeof value !== 'function') return value;
        const fn = value as (...a: unknown[]) => unknown;
        const guarded = (...args: unknown[]): unknown => {
          refuseDead();
          return fn.apply(target, args);
        };
        wrapped.set(prop, guarded);
        return guarded;
      },
    });
  }

  /** The armed store fault, taken when it is `modes` and the live manager process is the one running now. */
  #takeFault(...modes: StoreFaultMode[]): StoreFaultMode | null {
    const fault = this.#storeFault;
    if (fault === null || !modes.includes(fault) || this.sched.current.node !== 'manager' || !this.sched.alive(this.sched.current)) return null;
    this.#storeFault = null;
    this.obs.log(`store fault: ${fault}`);
    return fault;
  }

  /** The committed events of the store's last group, shown to the observer. */
  #heard(): void {
    const clock = this.sched.clockOf('manager');
    for (const e of this.#groupEvents.splice(0)) this.obs.event(e, clock);
  }

  /**
   * A group's commit, as the manager's `setImmediate` would run it: an event
   * of the process that opened the group, right after the turn that did
   * (later when it is paused; never when it is killed first: killManager
   * rolls the group back). The armed fault strikes here: the COMMIT fails
   * (its writes are lost, their waiters get the error), or the process dies
   * just before or just after it (after: committed, yet nothing the waiters
   * would do next — an API answer, a command, an event to subscribers —
   * leaves the dead process).
   */
  #scheduleCommit(commit: () => void): void {
    this.sched.post(this.sched.current, 0, () => {
      const fault = this.#takeFault('commitError', 'crashBefore', 'crashAfter');
      if (fault === 'commitError') {
        this.#groupEvents.length = 0;
        this.#db.abortGroup(new SimStoreFault('commit failed (SQLITE_IOERR)'));
        return;
      }
      if (fault === 'crashBefore') return this.#crashManagerNow();
      commit();
      if (!this.#db.pending) this.#heard();
      if (fault === 'crashAfter') this.#crashManagerNow();
    });
  }

  /** Closes the database (the end of the run). */
  close(): void {
    this.#db.close();
  }

  /** An uncaught error on a node: its process dies (Node's default) and is started again, as its supervisor would. */
  processCrashed(node: string, err: unknown): void {
    this.obs.log(`${node} process dies: uncaught ${err instanceof Error ? err.message : String(err)}`);
    if (node === 'manager') return this.#crashManagerNow();
    const w = this.workers.get(node);
    if (!w) return;
    this.killWorker(w, false);
    this.#later(this.rng.int(500, 5_000), () => this.startWorker(w, true));
  }

  #crashManagerNow(): void {
    this.killManager();
    this.#later(this.rng.int(100, 5_000), () => this.#bootManager());
  }

  /** Starts the manager again; one that dies while starting (a store fault) is started again a little later, as its supervisor (systemd) would. */
  #bootManager(): void {
    this.startManager(true);
  }

  #later(ms: number, fn: () => void): void {
    this.sched.post(this.sched.machineOf('sim'), ms, fn);
  }

  /**
   * A worker's record drops a task without a command (its `stopTask` from
   * self-fencing) while it may fence it: that copy may be stopped from now
   * on, also by the same worker restarted (its boot sweep finishes a stop
   * the engine refused while it was lost).
   */
  #watchFencing(w: WorkerSlot, state: WorkerState): WorkerState {
    const unassign = state.unassign.bind(state);
    state.unassign = (taskId, keys = []) => {
      const a = state.assignments().find((x) => x.taskId === taskId);
      if (a && !keys.some((k) => k.startsWith('cmd:')) && this.#mayFence(w.name, taskId)) this.#fenced.add(`${w.name} ${taskId}@${a.generation}`);
      return unassign(taskId, keys);
    };
    return state;
  }

  /** May the worker on `node` fence task `taskId` now (cut off, and its spec says `stopAfterMs`)? */
  #mayFence(node: string, taskId: string): boolean {
    const w = this.workers.get(node);
    const link = w?.joined?.link;
    if (!link || link.status === 'connected') return false;
    // The worker's own record of the task first: the store may have forgotten it (its service deleted meanwhile).
    const mine = w?.state?.assignments().find((a) => a.taskId === taskId);
    return (mine ?? this.store.getTask(taskId))?.spec.disconnect.stopAfterMs !== undefined;
  }

  /**
   * Starts a manager process on the store (a restart when `restart`): the
   * real `Manager`, without HTTP. It takes links once its tree is up (as
   * its HTTP server listens only then); one that fails to start is killed
   * and started again a little later.
   */
  startManager(restart: boolean): void {
    const ctx = this.sched.revive('manager');
    const epoch = ++this.#epoch;
    this.managerCtx = ctx;
    this.manager = null;
    this.obs.log(`manager ${restart ? 'restarts' : 'starts'}`);
    this.#inProcess(ctx, () => {
      const known = this.store.listNodes().filter((n) => n.status !== 'down').map((n) => n.id);
      this.obs.managerStarted(this.sched.clockOf('manager'), known);
      const started = Manager.start({
        dataDir: '/sim/manager', http: false, token: SIM_TOKEN, logger: silent,
        store: () => this.store,
        heartbeatMs: this.cfg.heartbeatMs, downAfterMs: this.cfg.downAfterMs,
        newId: () => this.#newId(),
        // Each incarnation leads with a higher epoch (as an HA leader would): a worker refuses commands of an older one.
        epoch,
        // The planted bug `trustTimers`: the host's timers as they are (a timer may fire before its time).
        ...(planted.trustTimers ? { clock: hostTimers } : {}),
      });
      started.then((manager) => {
        if (!this.sched.alive(ctx)) return;
        this.manager = manager;
        // Its own link acceptance (hello, cluster admission, welcome with its epoch), as its HTTP server's upgrades.
        this.net.listen('manager', ctx, (socket, address) => manager.acceptSocket(socket as never, address));
        manager.onLink((link) => {
          const id = link.nodeId;
          // What the observer checks "down only after the timeout of silence" against: the hello and every heartbeat.
          this.obs.heard(id, this.sched.clockOf('manager'), true);
          link.on('heartbeat', () => this.obs.heard(id, this.sched.clockOf('manager'), false));
        });
      }, (err: unknown) => {
        if (!this.sched.alive(ctx)) return;
        this.killManager();
        if (!(err instanceof SimStoreFault)) this.obs.fail('manager-starts', `the manager failed to start: ${err instanceof Error ? err.message : String(err)}`);
        this.#later(this.rng.int(500, 5_000), () => this.#bootManager());
      });
    });
  }

  /** A task id's random part: 10 letters and digits from the seed. */
  #newId(): string {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let id = '';
    for (let i = 0; i < 10; i++) id += abc[this.#ids.int(0, abc.length - 1)];
    return id;
  }

  /** Kills the manager process (kill -9): its timers, actors and sockets die; the store keeps what was committed. */
  killManager(): void {
    if (!this.sched.node('manager').up) return;
    this.obs.log('manager killed');
    this.sched.kill('manager');
    // What its open group wrote was never committed: gone with the process.
    this.#groupEvents.length = 0;
    this.#db.abortGroup();
    this.net.processDied('manager', false);
    this.net.unlisten('manager');
    this.manager = null;
  }

  /** Starts the worker process of `w`. */
  startWorker(w: WorkerSlot, restart: boolean): void {
    const ctx = this.sched.revive(w.name);
    w.ctx = ctx;
    w.joined = null;
    this.obs.log(`worker ${w.name} ${restart ? 'restarts' : 'starts'}`);
    this.#inProcess(ctx, () => {
      void joinCluster({
        dataDir: `/sim/${w.name}`, name: w.name, join: 'ws://manager:7070', token: SIM_TOKEN, logger: silent,
        runtimeInstance: { runtime: w.machine.runtimeFor(ctx), kind: 'docker' },
        state: (w.state = this.#watchFencing(w, WorkerState.inMemory(w.saved, `node-${w.name}`, w.name))),
        epochs: w.epochs, clusterIds: w.clusterIds,
        linkConnect: (url, o) => this.net.connect(w.name, ctx, url, o.handshakeTimeout ?? 10_000) as never,
      }).then((joined) => {
        if (!this.sched.alive(ctx)) return;
        w.joined = joined;
        joined.worker.subscribe((e) => {
          if (e.type === 'task') this.obs.log(`${w.name} view ${e.task.id}@${e.task.generation} ${e.task.state}`);
          if (e.type !== 'supervision') return;
          this.obs.log(`${w.name} ${e.event.type} ${e.event.path}${'reason' in e.event ? ` ${String(e.event.reason)}` : ''}`);
          if (e.event.type === 'budget_exceeded' || (e.event.type === 'child_crashed' && e.event.path === '/cluster/worker/runtime')) this.obs.path('escalation');
          if (e.event.type === 'restart_scheduled') this.obs.path('backoff');
        });
      }, (err: unknown) => this.obs.fail('worker-starts', `${w.name} failed to start: ${err instanceof Error ? (err.stack ?? err.message).split("\n").slice(0, 6).join(" | ") : String(err)}`));
    });
  }

  /** Kills worker `w`'s process; its tasks keep running unless `machine` (the whole machine crashes). */
  killWorker(w: WorkerSlot, machine: boolean): void {
    if (!this.sched.node(w.name).up) return;
    this.obs.log(`${machine ? 'machine' : 'worker'} ${w.name} ${machine ? 'crashes' : 'killed'}`);
    this.sched.kill(w.name);
    this.net.processDied(w.name, machine);
    w.joined = null;
    if (machine) w.machine.crashAll();
  }

  /** Runs one scheduled operation. */
  apply(op: SimOp): void {
    this.obs.log(`op ${JSON.stringify(op)}`);
    if (op.kind !== 'put' && op.kind !== 'scale' && op.kind !== 'delete') this.#count(op.kind);
    if (op.kind === 'storeFault') this.#count(`storeFault:${op.mode}`);
    if (op.kind === 'partition') this.#count(`partition:${op.way}`);
    switch (op.kind) {
      case 'put':
      case 'scale':
      case 'delete':
        return this.#api(op);
      case 'killWorker':
      case 'crashMachine': {
        const w = this.#worker(op.node);
        this.killWorker(w, op.kind === 'crashMachine');
        this.#restartLater(op.downMs, () => this.startWorker(w, true), () => !this.sched.node(w.name).up);
        return;
      }
      case 'killManager':
        this.killManager();
        this.#restartLater(op.downMs, () => this.#bootManager(), () => !this.sched.node('manager').up);
        return;
      case 'partition':
        if (op.way !== 'fromManager') this.net.cut(op.node, 'manager', false);
        if (op.way !== 'toManager') this.net.cut('manager', op.node, false);
        this.#later(op.ms, () => this.net.healAll());
        return;
      case 'pause':
        this.sched.pause(op.node, op.ms);
        return;
      case 'dockerLoss': {
        const m = this.#worker(op.node).machine;
        m.setHealthy(false);
        this.#later(op.ms, () => m.setHealthy(true));
        return;
      }
      case 'reset':
        this.net.resetNode(op.node);
        return;
      case 'storeFault':
        this.#storeFault = op.mode;
        return;
    }
  }

  #count(kind: string): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }

  #restartLater(ms: number, start: () => void, stillDown: () => boolean): void {
    const fn = (): void => {
      if (stillDown()) start();
    };
    this.#restarts.push(fn);
    this.#later(ms, fn);
  }

  #worker(name: string): WorkerSlot {
    const w = this.workers.get(name);
    if (!w) throw new Error(`sim: no worker ${name}`);
    return w;
  }

  /** An API call on the manager; an answer without error is an acknowledged write. */
  #api(op: Extract<SimOp, { kind: 'put' | 'scale' | 'delete' }>): void {
    const manager = this.manager;
    const ctx = this.managerCtx;
    if (!manager || !ctx || !this.sched.alive(ctx) || this.sched.paused('manager')) {
      this.obs.log('api: manager unavailable');
      return;
    }
    // Sent: in doubt until its answer comes; an answer without error acknowledges what the store then has.
    const intent = op.kind === 'put' ? { replicas: op.spec.replicas, version: op.spec.version } : op.kind === 'scale' ? { replicas: op.replicas } : null;
    const doubts = this.obs.inDoubt.get(op.service) ?? [];
    doubts.push(intent);
    this.obs.inDoubt.set(op.service, doubts);
    const failed = (err: unknown): void => {
      // An error answer: nothing was committed (a write fails before its commit).
      doubts.splice(doubts.indexOf(intent), 1);
      this.obs.log(`api error: ${err instanceof Error ? err.message.slice(0, 80) : String(err)}`);
    };
    const answered = (): void => {
      if (!this.sched.alive(ctx)) return;
      this.obs.inDoubt.delete(op.service);
      const s = this.store.getService(op.service);
      const now = s ? { replicas: s.spec.replicas, version: Number(s.spec.task.env?.VERSION) } : null;
      if (!matches(now, intent)) this.obs.fail('acked-writes-survive', `service ${op.service}: acknowledged ${show(intent)}, but the store has ${show(now)}`);
      this.obs.acked.set(op.service, now);
    };
    this.#inProcess(ctx, () => {
      try {
        if (op.kind === 'put') manager.putService(serviceBody(op.service, op.spec)).then(answered, failed);
        else if (op.kind === 'scale') manager.scaleService(op.service, op.replicas).then(answered, failed);
        else manager.deleteService(op.service).then(answered, failed);
      } catch (err) {
        failed(err);
      }
    });
  }

  /** Heals everything: processes back, network whole, engines up and calm, no store faults. */
  heal(): void {
    this.obs.log('heal');
    this.net.healAll();
    this.net.profile = { ...this.net.profile, reset: 0, dup: 0, drop: 0 };
    this.#storeFault = null;
    for (const w of this.workers.values()) {
      w.machine.calm = true;
      w.machine.setHealthy(true);
    }
    for (const fn of this.#restarts) fn();
    if (!this.sched.node('manager').up) this.#bootManager();
    for (const w of this.workers.values()) if (!this.sched.node(w.name).up) this.startWorker(w, true);
  }

  /** Running instances per node. */
  running(): Map<string, ReturnType<SimMachine['running']>> {
    return new Map([...this.workers.values()].map((w) => [w.name, w.machine.running()]));
  }

  /** The safety invariants now. */
  check(): void {
    this.obs.check(() => this.running());
  }

  /** Acknowledged writes survive: the store has what was last acknowledged, or what a later write without an answer sent. */
  checkAcked(): void {
    for (const [name, want] of this.obs.acked) {
      const s = this.store.getService(name);
      const has = s ? { replicas: s.spec.replicas, version: Number(s.spec.task.env?.VERSION) } : null;
      const doubts = this.obs.inDoubt.get(name) ?? [];
      if (matches(has, want) || doubts.some((d) => matches(has, d))) continue;
      this.obs.fail('acked-writes-survive', `service ${name}: store has ${show(has)}, acknowledged ${show(want)}${doubts.length ? ` (or, unanswered since: ${doubts.map(show).join(', ')})` : ''}`);
    }
  }

  /** Liveness after heal and settle: running = desired, nothing down or pending, no copies left over, no hot loops. */
  checkSettled(quietFrom: number): void {
    const running = this.running();
    const bySlot = new Map<string, string[]>();
    for (const [node, list] of running) {
      for (const i of list) {
        const t = this.store.getTask(i.task.taskId);
        const want = t && t.generation === i.task.generation && t.desired === 'running' && t.node === `node-${node}`;
        if (!want) {
          const view = this.workers.get(node)?.joined?.worker.task(i.task.taskId);
          this.obs.fail('running-equals-desired', `${node} still runs ${i.task.taskId}@${i.task.generation}, which the store does not want there (store: ${t ? `${t.state}/${t.desired} on ${t.node}` : 'unknown task'}; worker: ${view ? view.state : 'forgotten'})`);
          continue;
        }
        // What the store says of a copy that runs where it is wanted: running (a stale `unknown` or `starting` holds up
        // a rollout, and `ps` would say so wrongly).
        if (t.state !== 'running') this.obs.fail('states-agree', `${node} runs ${i.task.taskId}@${i.task.generation}, which the store says is ${t.state} after settling`);
        const k = `${i.task.service}/${i.task.slot}`;
        bySlot.set(k, [...(bySlot.get(k) ?? []), `${node}:${i.task.taskId}`]);
      }
    }
    for (const s of this.store.listServices()) {
      for (let slot = 0; slot < s.spec.replicas; slot++) {
        const k = `${s.name}/${slot}`;
        const copies = bySlot.get(k) ?? [];
        if (copies.length === 1) continue;
        const tasks = this.store.listTasks({ service: s.name }).filter((t) => t.slot === slot && !['stopped', 'lost', 'completed', 'failed', 'exited'].includes(t.state));
        const store = tasks.map((t) => `${t.id}@${t.generation} ${t.state}/${t.desired} on ${t.node ?? 'no node'}${t.error ? ` (${t.error.message})` : ''}`).join('; ') || 'no live task';
        this.obs.fail('running-equals-desired', `slot ${k} has ${copies.length} running copies after settling (${copies.join(', ') || 'none'}; store: ${store})`);
      }
    }
    for (const n of this.store.listNodes()) {
      if (n.status !== 'ready') this.obs.fail('nodes-back', `node ${n.id} is ${n.status} after settling`);
    }
    // Every rollout is done (issue 10: a rollout stalled for good when a controller's wake-up fired early): none still
    // replacing slots, and no live task of an older spec unless the rollout of this version is paused (it says why).
    for (const s of this.store.listServices()) {
      const u = s.update;
      if (isRolling(u)) {
        this.obs.fail('rollouts-done', `service ${s.name}: its rollout of version ${u!.version} is still ${u!.state} after settling (${u!.message}; ${this.store.listTasks({ service: s.name }).filter(isLive).map((t) => `${t.slot}g${t.generation} ${t.state}${specKey(t.spec) === specKey(s.spec.task) ? '' : ' old spec'}`).join(', ')})`);
        continue;
      }
      if (u?.state === 'paused' && u.version === s.version) continue;
      const want = specKey(s.spec.task);
      const old = this.store.listTasks({ service: s.name }).filter((t) => isLive(t) && t.slot < s.spec.replicas && specKey(t.spec) !== want);
      if (old.length > 0) this.obs.fail('rollouts-done', `service ${s.name} v${s.version}: ${old.length} live tasks of an older spec after settling (${old.slice(0, 3).map((t) => `${t.id}@${t.generation} ${t.state}`).join(', ')}; rollout ${u ? `${u.state} v${u.version}` : 'none'})`);
    }
    const pending = this.store.listTasks({ state: 'pending' }).filter((t) => t.desired === 'running');
    if (pending.length > 0) this.obs.fail('nothing-pending', `${pending.length} tasks pending after settling: ${pending.slice(0, 3).map((t) => `${t.id} (${t.error?.message ?? ''})`).join(', ')}`);
    const late = this.obs.creations.filter((c) => c.at >= quietFrom);
    if (late.length > 0) this.obs.fail('no-hot-loops', `${late.length} new generations while settled (e.g. slot ${late[0]?.slot})`);
  }
}

/** Whether the store's `has` is what `want` wrote (a scale's version: any). */
function matches(has: ServiceWrite | null, want: (Partial<ServiceWrite> & { replicas: number }) | null): boolean {
  if (has === null || want === null) return has === want;
  return has.replicas === want.replicas && (want.version === undefined || has.version === want.version);
}

function show(w: (Partial<ServiceWrite> & { replicas: number }) | null): string {
  return w === null ? 'no service' : `replicas ${w.replicas}${w.version === undefined ? '' : ` v${w.version}`}`;
}

/** The service body for the API from a workload spec. */
export function serviceBody(name: string, spec: SimServiceSpec): unknown {
  return {
    name, replicas: spec.replicas,
    task: {
      image: 'goat/echo:latest', env: { VERSION: String(spec.version) },
      ...(spec.disconnect ? { disconnect: spec.disconnect } : {}),
    },
  };
}
