/**
 * The simulated cluster: one manager and N workers in this process, on the
 * {@link SimScheduler}, talking over the {@link SimNetwork}, running tasks
 * on {@link SimMachine}s.
 *
 * Real code: on the manager, `ManagerCore` (reconcile, scheduler, failure
 * detector, recovery grace, stops and re-placement) over the real SQLite
 * store (in memory), and the real `LinkServer`/`ManagerLink` (hello,
 * heartbeats, commands re-sent until acked); on each worker,
 * `joinCluster` — the real `Worker` (its nact supervision tree: runtime
 * gate, tasks, restart policies, backoff, budgets), `LinkClient`
 * (reconnect backoff, silence detection) and self-fencing. Faked: the
 * engine (lib/sim/runtime.ts), the sockets (lib/sim/network.ts), the
 * worker's state file (kept in memory), and the manager's nact tree around
 * the core (its `#linked` wiring is mirrored here, ticks run inline).
 */
import { ManagerCore, type NodeChannel } from '../../actors/manager/core.js';
import { joinCluster, memoryEpochs, type EpochStore, type JoinedWorker } from '../../actors/worker/join.js';
import type { ClusterEvent } from '../model/index.js';
import { openSqliteStore, type Store } from '../store/index.js';
import { WorkerState } from '../store/worker-state.js';
import { LINK_CLOSE, LinkServer } from '../../transport/index.js';
import type { SimConfig, SimOp, SimServiceSpec } from './config.js';
import { SimNetwork } from './network.js';
import { Observer } from './observer.js';
import type { Prng } from './prng.js';
import { SimMachine } from './runtime.js';
import type { SimCtx, SimScheduler } from './scheduler.js';

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
  machine: SimMachine;
  joined: JoinedWorker | null;
  ctx: SimCtx | null;
}

/** The cluster of one run. */
export class SimCluster {
  readonly net: SimNetwork;
  readonly store: Store;
  readonly workers = new Map<string, WorkerSlot>();
  core: ManagerCore | null = null;
  managerCtx: SimCtx | null = null;
  /** A store fault armed for the next write transaction. */
  #storeFault: 'error' | 'crashBefore' | 'crashAfter' | null = null;
  readonly faults = new Map<string, number>();
  readonly #restarts: (() => void)[] = [];

  constructor(
    readonly sched: SimScheduler,
    readonly cfg: SimConfig,
    readonly obs: Observer,
    readonly rng: Prng,
  ) {
    this.net = new SimNetwork(sched, rng.fork('net'), cfg.net);
    this.net.onDeliver = (from, to, text) => this.obs.delivered(from, to, text);
    sched.addNode('manager', cfg.clocks[0] ?? { rate: 1, offset: 0 });
    this.store = this.#faulty(openSqliteStore(':memory:'));
    for (let i = 1; i <= cfg.workers; i++) {
      const name = `w${i}`;
      sched.addNode(name, cfg.clocks[i] ?? { rate: 1, offset: 0 });
      const machine = new SimMachine(name, sched, rng.fork(`machine:${name}`), cfg.runtime, {
        started: (node, inst, adopted) => obs.started(node, inst, adopted),
        stopped: (node, inst, how) => obs.stopped(node, inst, how, this.#mayFence(node, inst.task.taskId)),
        note: (line) => obs.log(line),
      });
      this.workers.set(name, { name, saved: {}, epochs: memoryEpochs(), machine, joined: null, ctx: null });
    }
  }

  /** Starts the manager and every worker. */
  async boot(): Promise<void> {
    await this.startManager(false);
    for (const w of this.workers.values()) await this.startWorker(w, false);
  }

  /** The store, as the manager sees it: writes fail or crash the manager when a fault is armed. */
  #faulty(store: Store): Store {
    const arm = {
      take: (): 'error' | 'crashBefore' | 'crashAfter' | null => {
        const fault = this.#storeFault;
        if (fault === null || !this.sched.alive(this.managerCtx ?? { node: 'manager', inc: -2 }) || this.sched.current.node !== 'manager') return null;
        this.#storeFault = null;
        this.obs.log(`store fault: ${fault}`);
        return fault;
      },
      crash: (): void => this.#crashManagerNow(),
    };
    return new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== 'transaction' || typeof value !== 'function') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        return <T>(fn: () => T): T => {
          const fault = arm.take();
          if (fault === null) return target.transaction(fn);
          if (fault === 'error') throw new SimStoreFault('write failed (SQLITE_IOERR)');
          if (fault === 'crashBefore') {
            arm.crash();
            throw new SimStoreFault('manager crashed before commit');
          }
          const r = target.transaction(fn);
          arm.crash();
          return r;
        };
      },
    });
  }

  /** An uncaught error on a node: its process dies (Node's default) and is started again, as its supervisor would. */
  processCrashed(node: string, err: unknown): void {
    this.obs.log(`${node} process dies: uncaught ${err instanceof Error ? err.message : String(err)}`);
    if (node === 'manager') return this.#crashManagerNow();
    const w = this.workers.get(node);
    if (!w) return;
    this.killWorker(w, false);
    this.#later(this.rng.int(500, 5_000), () => void this.startWorker(w, true));
  }

  #crashManagerNow(): void {
    this.killManager();
    this.#later(this.rng.int(100, 5_000), () => this.#bootManager());
  }

  /** Starts the manager again; one that dies while starting (a store fault) is started again a little later, as its supervisor (systemd) would. */
  #bootManager(): void {
    this.startManager(true).catch((err: unknown) => {
      this.killManager();
      if (!(err instanceof SimStoreFault)) this.obs.fail('manager-starts', `the manager failed to start: ${err instanceof Error ? err.message : String(err)}`);
      this.#later(this.rng.int(500, 5_000), () => this.#bootManager());
    });
  }

  #later(ms: number, fn: () => void): void {
    this.sched.post(this.sched.machineOf('sim'), ms, fn);
  }

  /** May the worker on `node` fence task `taskId` now (cut off, and its spec says `stopAfterMs`)? */
  #mayFence(node: string, taskId: string): boolean {
    const w = this.workers.get(node);
    const link = w?.joined?.link;
    if (!link || link.status === 'connected') return false;
    return this.store.getTask(taskId)?.spec.disconnect.stopAfterMs !== undefined;
  }

  /** Starts a manager process on the store (a restart when `restart`). */
  async startManager(restart: boolean): Promise<void> {
    const ctx = this.sched.revive('manager');
    this.managerCtx = ctx;
    this.obs.log(`manager ${restart ? 'restarts' : 'starts'}`);
    await this.sched.runIn(ctx, () => {
      const known = this.store.listNodes().filter((n) => n.status !== 'down').map((n) => n.id);
      this.obs.managerStarted(this.sched.clockOf('manager'), known);
      const core = new ManagerCore({ store: this.store, downAfterMs: this.cfg.downAfterMs, heartbeatMs: this.cfg.heartbeatMs });
      this.core = core;
      core.subscribe((e: ClusterEvent) => this.obs.event(e, this.sched.clockOf('manager')));
      const links = new LinkServer({ token: 'sim', heartbeatMs: this.cfg.heartbeatMs });
      this.net.listen('manager', ctx, (socket, address) => links.acceptSocket(socket as never, address));
      // As Manager#linked: a linked worker's frames go to the core.
      links.onLink((link) => {
        const id = link.nodeId;
        const channel: NodeChannel = {
          assign: (t) => link.command('assign', { cmdId: `assign:${t.id}:${t.generation}`, task: { taskId: t.id, service: t.service, slot: t.slot, generation: t.generation, spec: t.spec } }),
          stop: (t) => link.command('stop', { cmdId: `stop:${t.id}:${t.generation}`, taskId: t.id, generation: t.generation }),
          close: (reason) => link.close(LINK_CLOSE.SILENT.code, reason),
        };
        link.on('heartbeat', (hb) => {
          this.obs.heard(id, this.sched.clockOf('manager'), false);
          core.heartbeat(id, hb.usage);
        });
        link.on('report', (r) => core.report(id, r.tasks));
        link.on('close', () => core.nodeUnlinked(id, channel));
        this.obs.heard(id, this.sched.clockOf('manager'), true);
        core.nodeLinked({ ...link.hello, capacity: link.hello.capacity }, channel);
      });
    });
  }

  /** Kills the manager process (kill -9): its timers and sockets die; the store keeps what was committed. */
  killManager(): void {
    if (!this.sched.node('manager').up) return;
    this.obs.log('manager killed');
    this.sched.kill('manager');
    this.net.processDied('manager', false);
    this.core = null;
  }

  /** Starts the worker process of `w`. */
  async startWorker(w: WorkerSlot, restart: boolean): Promise<void> {
    const ctx = this.sched.revive(w.name);
    w.ctx = ctx;
    w.joined = null;
    this.obs.log(`worker ${w.name} ${restart ? 'restarts' : 'starts'}`);
    await this.sched.runIn(ctx, () => {
      void joinCluster({
        dataDir: `/sim/${w.name}`, name: w.name, join: 'ws://manager:7070', token: 'sim', logger: silent,
        runtimeInstance: { runtime: w.machine.runtimeFor(ctx), kind: 'docker' },
        state: WorkerState.inMemory(w.saved, `node-${w.name}`, w.name),
        epochs: w.epochs,
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
  async apply(op: SimOp): Promise<void> {
    this.obs.log(`op ${JSON.stringify(op)}`);
    if (op.kind !== 'put' && op.kind !== 'scale' && op.kind !== 'delete') this.faults.set(op.kind, (this.faults.get(op.kind) ?? 0) + 1);
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
        this.#restartLater(op.downMs, async () => this.#bootManager(), () => !this.sched.node('manager').up);
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

  #restartLater(ms: number, start: () => Promise<void>, stillDown: () => boolean): void {
    const fn = (): void => {
      if (stillDown()) void start();
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
  async #api(op: Extract<SimOp, { kind: 'put' | 'scale' | 'delete' }>): Promise<void> {
    const core = this.core;
    const ctx = this.managerCtx;
    if (!core || !ctx || !this.sched.alive(ctx) || this.sched.paused('manager')) {
      this.obs.log('api: manager unavailable');
      return;
    }
    await this.sched.runIn(ctx, () => {
      try {
        if (op.kind === 'put') {
          core.putService(serviceBody(op.service, op.spec));
          this.obs.acked.set(op.service, { replicas: op.spec.replicas, version: op.spec.version });
        } else if (op.kind === 'scale') {
          core.scaleService(op.service, op.replicas);
          const before = this.obs.acked.get(op.service);
          if (before) this.obs.acked.set(op.service, { ...before, replicas: op.replicas });
        } else if (core.deleteService(op.service)) {
          this.obs.acked.set(op.service, null);
        }
      } catch (err) {
        this.obs.log(`api error: ${err instanceof Error ? err.message.slice(0, 80) : String(err)}`);
      }
    });
  }

  /** Heals everything: processes back, network whole, engines up and calm, no store faults. */
  heal(): void {
    this.obs.log('heal');
    this.net.healAll();
    this.net.profile = { ...this.net.profile, reset: 0, dup: 0 };
    this.#storeFault = null;
    for (const w of this.workers.values()) {
      w.machine.calm = true;
      w.machine.setHealthy(true);
    }
    for (const fn of this.#restarts) fn();
    if (!this.sched.node('manager').up) this.#bootManager();
    for (const w of this.workers.values()) if (!this.sched.node(w.name).up) void this.startWorker(w, true);
  }

  /** Running instances per node. */
  running(): Map<string, ReturnType<SimMachine['running']>> {
    return new Map([...this.workers.values()].map((w) => [w.name, w.machine.running()]));
  }

  /** The safety invariants now. */
  check(): void {
    this.obs.check(() => this.running());
  }

  /** Acknowledged writes survive: the store has what was last acknowledged. */
  checkAcked(): void {
    for (const [name, want] of this.obs.acked) {
      const s = this.store.getService(name);
      if (want === null) {
        if (s) this.obs.fail('acked-writes-survive', `service ${name} was deleted (acknowledged) but the store has it`);
      } else if (!s) {
        this.obs.fail('acked-writes-survive', `service ${name} was written (acknowledged) but the store lacks it`);
      } else if (s.spec.replicas !== want.replicas || s.spec.task.env?.VERSION !== String(want.version)) {
        this.obs.fail('acked-writes-survive', `service ${name}: store has replicas ${s.spec.replicas} v${s.spec.task.env?.VERSION}, acknowledged ${want.replicas} v${want.version}`);
      }
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
        const k = `${i.task.service}/${i.task.slot}`;
        bySlot.set(k, [...(bySlot.get(k) ?? []), `${node}:${i.task.taskId}`]);
      }
    }
    for (const s of this.store.listServices()) {
      for (let slot = 0; slot < s.spec.replicas; slot++) {
        const k = `${s.name}/${slot}`;
        const copies = bySlot.get(k) ?? [];
        if (copies.length !== 1) this.obs.fail('running-equals-desired', `slot ${k} has ${copies.length} running copies after settling (${copies.join(', ') || 'none'})`);
      }
    }
    for (const n of this.store.listNodes()) {
      if (n.status !== 'ready') this.obs.fail('nodes-back', `node ${n.id} is ${n.status} after settling`);
    }
    const pending = this.store.listTasks({ state: 'pending' }).filter((t) => t.desired === 'running');
    if (pending.length > 0) this.obs.fail('nothing-pending', `${pending.length} tasks pending after settling: ${pending.slice(0, 3).map((t) => `${t.id} (${t.error?.message ?? ''})`).join(', ')}`);
    const late = this.obs.creations.filter((c) => c.at >= quietFrom);
    if (late.length > 0) this.obs.fail('no-hot-loops', `${late.length} new generations while settled (e.g. slot ${late[0]?.slot})`);
  }
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
