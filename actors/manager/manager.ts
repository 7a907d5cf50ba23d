/**
 * The manager: desired state, scheduling and reconciliation, as a tree.
 *
 *   manager          one-for-one
 *   ├─ store         the durable store (SQLite in the data dir), opened and checked at start
 *   ├─ scheduler     placement (pure, lib/scheduler), asked by the reconciler
 *   ├─ reconciler    event → mark → tick → reconcile
 *   ├─ nodes         one child per linked worker: its frames, its commands
 *   │  └─ <nodeId>
 *   ├─ services      one replica controller per service (a failing one restarts alone)
 *   │  └─ <service>
 *   └─ api           HTTP API + worker links (`/v1/link`) on one port
 *
 * Writes are committed to the store before the API answers or a command is sent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { start as startSystem, stop as stopNact } from 'nact';
import { consola } from 'consola';
import type { Logger } from '../../lib/log.js';
import { GoatError } from '../../lib/errors.js';
import type { ClusterEvent, NodeRecord, ServiceRecord, TaskRecord } from '../../lib/model/index.js';
import { afterCommit, openSqliteStore, type Store } from '../../lib/store/index.js';
import { EscalationLog, EventBus, systemClock, type Supervisor, type SupervisorEvent, type TreeNode } from '../../lib/supervision/index.js';
import { resolveToken, type ResolvedToken } from '../../lib/token.js';
import { createApiHandler, type ApiOptions, type ManagerApi, type ManagerInfo } from '../../transport/http-api.js';
import { LINK_CLOSE, LinkServer, type ManagerLink } from '../../transport/index.js';
import { AdminServer, type AdminRequest } from '../../transport/admin-server.js';
import { actorChild, adminCall, nactSupervisorChild, startSupervisor, type Inspectable, type NactRef } from '../supervision/index.js';
import { ClusterTree, localSource } from './tree.js';
import { ManagerCore, type NodeChannel } from './core.js';
import { ManagerMetrics } from './metrics.js';

/** How a manager is started. */
export interface ManagerOptions {
  /** Where the store (`goat.db`) and a generated token live. */
  dataDir: string;
  /** `host:port` to listen on. @default '127.0.0.1:7070' */
  listen?: string;
  /** The cluster token; else GOAT_TOKEN, else `<dataDir>/token` (generated on first start). */
  token?: string;
  /** Heartbeat interval told to workers, ms. @default 1000 */
  heartbeatMs?: number;
  /** A node is down after this long without a heartbeat (the manager's own stalls discounted), ms. @default 4000 */
  downAfterMs?: number;
  /** After a start, no node is declared down during this grace, ms. @default 2 × downAfterMs */
  recoveryGraceMs?: number;
  /** Placement scorer. @default 'spread' */
  scorer?: 'spread' | 'binpack';
  /** Where it logs. @default consola tagged `goat:manager` */
  logger?: Logger;
  /** The nact parent (to sit in a bigger tree); a system of its own when absent. */
  parent?: NactRef;
  /** The tree's event bus, when it sits in a bigger tree. */
  bus?: EventBus;
  /** HTTP API settings: `/metrics` behind the token, limits of event streams. */
  api?: Pick<ApiOptions, 'metricsToken' | 'events'>;
  /** A store opened by the caller (HA: the leader's etcd store) instead of `<dataDir>/goat.db`; closed by {@link Manager.stop}. */
  store?: Store;
  /** The leader's epoch (HA), sent in `welcome` and with every command. @default 0 */
  epoch?: number;
  /** Lists the cluster's managers (HA: from etcd). @default this manager alone */
  managers?: () => Promise<ManagerInfo[]>;
}

/** A running manager. */
export class Manager implements ManagerApi {
  #root!: Supervisor<NactRef>;
  #system: NactRef | null = null;
  #server!: Server;
  #links!: LinkServer;
  #ready = false;
  #admin: AdminServer | undefined;
  /** The workers' subtrees under `nodes/<id>` (actors/manager/tree.ts). */
  readonly #cluster = new ClusterTree();
  readonly #escalations = new EscalationLog();
  #nodesSup: Supervisor<NactRef> | undefined;
  #servicesSup: Supervisor<NactRef> | undefined;
  /** Service controllers being started (their first reconcile comes from their init). */
  readonly #starting = new Set<string>();
  readonly #metrics: ManagerMetrics;
  /** Expired Idempotency-Keys are deleted on this timer (they would otherwise stay until looked up). */
  #pruneTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly core: ManagerCore,
    readonly store: Store,
    /** The token and where it came from. */
    readonly token: ResolvedToken,
    private readonly options: ManagerOptions,
  ) {
    this.#metrics = new ManagerMetrics(core);
  }

  /** Opens the store (refusing a corrupt one), starts the tree and listens. */
  static async start(options: ManagerOptions): Promise<Manager> {
    await mkdir(options.dataDir, { recursive: true });
    const token = await resolveToken({ token: options.token, dataDir: options.dataDir });
    const store = options.store ?? openSqliteStore(join(options.dataDir, 'goat.db'));
    const sink: { metrics?: ManagerMetrics } = {};
    const core = new ManagerCore({
      store,
      downAfterMs: options.downAfterMs ?? 4_000,
      heartbeatMs: options.heartbeatMs ?? 1_000,
      ...(options.recoveryGraceMs === undefined ? {} : { recoveryGraceMs: options.recoveryGraceMs }),
      scorer: options.scorer ?? 'spread',
      onPlacement: (ms, placed) => sink.metrics?.placement(ms, placed),
    });
    const manager = new Manager(core, store, token, options);
    sink.metrics = manager.#metrics;
    try {
      await manager.#boot();
    } catch (err) {
      core.close();
      store.close();
      throw err;
    }
    return manager;
  }

  /** Resolves once the manager's root supervisor gave up: its error and the chain of failures that led there. */
  whenFailed(): Promise<{ error: GoatError; chain: string }> {
    return this.#root.whenFailed().then((error) => ({ error, chain: this.#escalations.chain() || error.message }));
  }

  /** The API's base URL, e.g. `http://127.0.0.1:7070`. */
  get url(): string {
    const a = this.#server.address() as AddressInfo;
    return `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** The port it listens on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Stops listening, closes links and the store. Workers keep their tasks. */
  async stop(): Promise<void> {
    this.#ready = false;
    clearInterval(this.#pruneTimer);
    this.core.close();
    await this.#root.stop();
    if (this.#system) stopNact(this.#system);
  }

  // --- ManagerApi --------------------------------------------------------------

  ready(): boolean {
    return this.#ready;
  }
  listServices(): ServiceRecord[] {
    return this.store.listServices();
  }
  getService(name: string): ServiceRecord | undefined {
    return this.store.getService(name);
  }
  async putService(body: unknown, name?: string): Promise<{ record: ServiceRecord; created: boolean }> {
    return this.#acked(this.core.putService(body, name));
  }
  async scaleService(name: string, replicas: number): Promise<ServiceRecord> {
    return this.#acked(this.core.scaleService(name, replicas));
  }
  async deleteService(name: string): Promise<boolean> {
    return this.#acked(this.core.deleteService(name));
  }
  async rollbackService(name: string): Promise<ServiceRecord> {
    return this.#acked(this.core.rollbackService(name));
  }
  listTasks(filter: { service?: string; state?: string; node?: string }): TaskRecord[] {
    return this.store.listTasks(filter);
  }
  getTask(id: string): TaskRecord | undefined {
    return this.store.getTask(id);
  }
  listNodes(): NodeRecord[] {
    return this.store.listNodes();
  }
  async drainNode(id: string): Promise<NodeRecord> {
    return this.#acked(this.core.drainNode(id));
  }
  eventsSince(seq: number, limit: number): ClusterEvent[] {
    return this.store.eventsSince(seq, limit);
  }
  subscribeEvents(listener: (e: ClusterEvent) => void): () => void {
    return this.core.subscribe(listener);
  }
  tree(): TreeNode {
    return this.#cluster.graft(this.#root.snapshot(), Date.now());
  }

  /** Shows (and routes admin calls to) the tree of a worker running in this process under `/manager/nodes/<nodeId>`. */
  attachLocalWorker(nodeId: string, tree: () => TreeNode, inspect: Inspectable = { inspect: () => undefined }): void {
    this.#cluster.attach(nodeId, localSource(tree, inspect));
  }
  metrics(): Promise<{ contentType: string; body: string }> {
    return this.#metrics.render();
  }
  idempotent(key: string): { bodyHash: string; status: number; response: unknown } | undefined {
    return this.store.getIdempotency(key, Date.now());
  }
  remember(key: string, rec: { bodyHash: string; status: number; response: unknown }): void {
    const now = Date.now();
    this.store.pruneIdempotency(now); // an indexed range delete: the expired keys never pile up
    this.store.putIdempotency(key, rec, now + 24 * 3_600_000);
  }
  lastEventSeq(): number {
    return this.store.lastEventSeq();
  }

  managers(): Promise<ManagerInfo[]> {
    return this.options.managers?.() ?? Promise.resolve([{ id: 'manager', url: this.url, leader: true, epoch: this.options.epoch ?? 0, healthy: true }]);
  }

  // --- internals -----------------------------------------------------------------

  /** `{ epoch }` for commands of an HA leader; nothing for a single manager. */
  #epochField(): { epoch?: number } {
    return this.options.epoch ? { epoch: this.options.epoch } : {};
  }

  /** `result` once the writes that made it are durable (at once with SQLite): the API acknowledges only then. */
  async #acked<T>(result: T): Promise<T> {
    if (this.store.pending) await this.store.committed();
    return result;
  }

  async #boot(): Promise<void> {
    const log = this.options.logger ?? consola.withTag('goat:manager');
    const parent = this.options.parent ?? (this.#system = startSystem() as unknown as NactRef);
    const bus = this.options.bus ?? new EventBus(systemClock);
    bus.subscribe((e) => this.#onSupervision(e));
    bus.subscribe((e) => this.#escalations.record(e));
    const epoch = this.options.epoch ?? 0;
    this.#links = new LinkServer({ token: this.token.token, heartbeatMs: this.options.heartbeatMs ?? 1_000, epoch: () => epoch });
    this.#server = createServer(createApiHandler(this, { ...this.options.api, token: this.token.token }));
    this.#links.attach(this.#server);
    this.#admin = new AdminServer({ handle: (req) => this.#adminRequest(req), subscribe: (l) => this.core.subscribe(l) }, this.token.token);
    this.#admin.attach(this.#server);
    const [host, port] = splitListen(this.options.listen ?? '127.0.0.1:7070');
    this.#root = await startSupervisor(parent as never, {
      id: 'manager', bus, maxRestarts: 10, windowMs: 60_000,
      children: [
        actorChild<null, never>({
          id: 'store', restart: 'permanent',
          init: () => null,
          receive: (s) => s,
          terminate: () => this.store.close(),
        }),
        actorChild<null, { type: 'place'; round: () => void }>({
          id: 'scheduler',
          init: () => {
            this.core.options.runPlacement = (round) => this.#via('/manager/scheduler', { type: 'place', round }, round);
            return null;
          },
          receive: (s, msg) => {
            if (typeof msg.round === 'function') msg.round(); // anything else (a REPL user's message) is ignored
            return s;
          },
        }),
        actorChild<null, { type: 'tick'; run: () => void }>({
          id: 'reconciler',
          init: (ctx) => {
            this.core.options.runTick = (run) => this.#via('/manager/reconciler', { type: 'tick', run }, () => setImmediate(run));
            // After a restart, look again at everything that may have been marked meanwhile.
            ctx.tell({ type: 'tick', run: () => this.core.requestTick() });
            return null;
          },
          receive: (s, msg) => {
            if (typeof msg.run === 'function') msg.run(); // anything else (a REPL user's message) is ignored
            return s;
          },
        }),
        nactSupervisorChild({ id: 'nodes', maxRestarts: 1_000_000, windowMs: 1_000, onStarted: (sup) => (this.#nodesSup = sup) }),
        nactSupervisorChild({ id: 'services', maxRestarts: 1_000_000, windowMs: 1_000, onStarted: (sup) => (this.#servicesSup = sup) }),
        actorChild<null, never>({
          id: 'api',
          init: async () => {
            await new Promise<void>((resolve, reject) => {
              this.#server.once('error', reject);
              this.#server.listen(Number(port), host, () => {
                this.#server.off('error', reject);
                resolve();
              });
            });
            return null;
          },
          receive: (s) => s,
          terminate: async () => {
            this.#links.close();
            this.#admin?.close();
            this.#server.closeAllConnections();
            await new Promise<void>((resolve) => this.#server.close(() => resolve()));
          },
        }),
      ],
    });
    if (this.#root.snapshot().children?.find((c) => c.id === 'api')?.status !== 'running') {
      const err = this.#root.snapshot().children?.find((c) => c.id === 'api')?.lastError;
      await this.#root.stop();
      throw new GoatError('GOAT_ERR_USAGE', `cannot listen on ${host}:${port}: ${err?.message ?? 'unknown error'}`, { details: { listen: `${host}:${port}` } });
    }
    this.#links.onLink((link) => void this.#linked(link));
    this.core.options.reconcileVia = (name) => this.#reconcileVia(name);
    for (const s of this.store.listServices()) this.core.mark(s.name);
    this.#pruneTimer = setInterval(() => this.store.pruneIdempotency(Date.now()), 60_000);
    this.#pruneTimer.unref();
    this.#ready = true;
    const tokenWhere = this.token.file ? `token in ${this.token.file}` : `token from ${this.token.source === 'env' ? 'GOAT_TOKEN' : 'the options'}`;
    log.info(`manager API on ${this.url} (${tokenWhere})`);
  }

  /** A worker linked: a child under `nodes` for it; its frames go to the core. */
  async #linked(link: ManagerLink): Promise<void> {
    const nodes = this.#nodesSup;
    const id = link.nodeId;
    if (!nodes) return link.close(1011, 'manager not ready');
    if (nodes.childIds().includes(id)) await nodes.stopChild(id).catch(() => undefined);
    const channel: NodeChannel = {
      // A command goes out only once the write behind it is durable (at once with SQLite).
      assign: (t) => afterCommit(this.store, () => link.command('assign', { cmdId: `assign:${t.id}:${t.generation}`, task: { taskId: t.id, service: t.service, slot: t.slot, generation: t.generation, spec: t.spec }, ...this.#epochField() })),
      stop: (t) => afterCommit(this.store, () => link.command('stop', { cmdId: `stop:${t.id}:${t.generation}`, taskId: t.id, generation: t.generation, ...this.#epochField() })),
      close: (reason) => link.close(LINK_CLOSE.SILENT.code, reason),
    };
    await nodes.startChild(actorChild<null, never>({
      id, restart: 'temporary',
      init: () => {
        link.on('heartbeat', (hb) => {
          this.#metrics.heartbeat(link);
          this.core.heartbeat(id, hb.usage);
        });
        link.on('report', (r) => this.core.report(id, r.tasks));
        link.on('close', () => {
          this.core.nodeUnlinked(id, channel);
          void nodes.stopChild(id).catch(() => undefined);
        });
        this.core.nodeLinked({ ...link.hello, capacity: link.hello.capacity }, channel);
        return null;
      },
      receive: (s) => s,
    }));
  }


  /**
   * The replica controller of one service: `services/<name>`, started on
   * first need; its reconcile runs inside it, so a failing one is restarted
   * with backoff without touching the others.
   */
  #reconcileVia(name: string): void {
    const sup = this.#servicesSup;
    if (!sup || sup.state !== 'running') return this.core.reconcileOne(name);
    const status = sup.snapshot().children?.find((c) => c.id === name)?.status;
    if (status === 'running' || status === 'restarting' || status === 'starting') {
      sup.ref(name).send({ type: 'reconcile' });
      return;
    }
    if (this.#starting.has(name)) return;
    this.#starting.add(name);
    const start = async (): Promise<void> => {
      if (status !== undefined) await sup.stopChild(name).catch(() => undefined);
      await sup.startChild(actorChild<null, { type: 'reconcile' }>({
        id: name, restart: 'transient',
        init: (ctx) => {
          ctx.tell({ type: 'reconcile' });
          return null;
        },
        receive: (s, _msg, ctx) => {
          this.core.reconcileOne(name);
          // A deleted service whose tasks are all stopped needs no controller any more.
          if (!this.store.getService(name) && this.store.listTasks({ service: name }).every((t) => t.desired === 'stopped')) ctx.exit();
          return s;
        },
      }));
    };
    void start().catch(() => this.core.reconcileOne(name)).finally(() => this.#starting.delete(name));
  }

  /** One admin-channel request (the REPL, the inspector). Bad paths and messages get errors, never a crash. */
  async #adminRequest(req: Exclude<AdminRequest, { type: 'subscribe' }>): Promise<unknown> {
    switch (req.type) {
      case 'tree':
        return this.tree();
      case 'tasks':
        return this.listTasks({});
      case 'nodes':
        return this.listNodes();
      case 'services':
        return this.listServices();
      case 'send':
      case 'ask':
        return this.#cluster.route(`${this.#root.path}/nodes`, req) ?? adminCall(this.#root, req);
    }
  }

  /** Sends to the actor at `path`; when it cannot take it (not started yet, stopped), runs `fallback` so no work is lost. */
  #via(path: string, message: unknown, fallback: () => void): void {
    const delivery = this.#root?.lookup(path)?.send(message);
    if (delivery !== 'delivered' && delivery !== 'stashed') fallback();
  }

  #onSupervision(_e: SupervisorEvent): void {
    // Kept for the inspector and the REPL (issue 6); the tree is in /v1/tree.
  }
}

function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(':');
  if (i <= 0) throw new GoatError('GOAT_ERR_USAGE', `--listen wants HOST:PORT, got '${listen}'`, { details: { field: 'listen' } });
  return [listen.slice(0, i).replace(/^\[|\]$/g, ''), listen.slice(i + 1)];
}
