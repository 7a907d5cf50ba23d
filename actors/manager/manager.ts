/**
 * The manager: desired state, scheduling and reconciliation, as a tree of
 * actors that each own their state and change it only on messages (data):
 *
 *   cluster          the process's root (actors/cluster)
 *   └─ manager       one-for-one
 *   ├─ store         owns the store (opened in its init, reopened from disk by a restart) and the heartbeat buffer
 *   ├─ scheduler     owns placement: fair, bounded rounds over the pending queue, backoff when idle
 *   ├─ reconciler    anti-entropy: at start, every service's controller and every known node's actor
 *   ├─ nodes         one child per known node: its link, its liveness, its commands
 *   │  └─ <nodeId>
 *   ├─ services      one replica controller per service: its slots (a failing one restarts alone)
 *   │  └─ <service>
 *   └─ api           HTTP API + worker links (`/v1/link`) on one port
 *
 * A change of replicas: API (commits the spec) → `services/<name>`
 * (reconcile: new pending tasks) → `scheduler` (place: assigned) →
 * `nodes/<id>` (assign) → link. Each hop is a message; the decisions are
 * pure functions in lib/manager. Writes are committed to the store before
 * the API answers or a command is sent.
 *
 * Seams (a simulation, another store, leader election): time comes from
 * `options.clock` (lib/supervision's Clock; a SimulatedClock in tests), the
 * store from `options.store` (a factory, opened by the `store` actor), task
 * ids from `options.newId`; links can be attached without HTTP
 * ({@link Manager.attachLink}: anything shaped like a NodeLink); the
 * failure-detector configuration is the one of `detectorConfig()`
 * (lib/model), sent to workers in `welcome`. A worker's hello is applied in
 * one place: lib/manager/reports.ts `applyHello`, called by `nodes/<id>`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { consola } from 'consola';
import type { Logger } from '../../lib/log.js';
import { GoatError } from '../../lib/errors.js';
import { detectorConfig, isLive, normalizeServiceSpec, serviceInfo, type ClusterEvent, type DetectorConfig, type NodeRecord, type ServiceRecord, type TaskRecord } from '../../lib/model/index.js';
import { Journal } from '../../lib/manager/index.js';
import { openSqliteStore, StoreCell, type Store, type StoreFactory } from '../../lib/store/index.js';
import { systemClock, type ChildSpec, type Clock, type TimerId, type Supervisor, type SupervisorEvent, type TreeNode } from '../../lib/supervision/index.js';
import { resolveToken, type ResolvedToken } from '../../lib/token.js';
import { createApiHandler, type ApiOptions, type ManagerApi, type ManagerInfo } from '../../transport/http-api.js';
import { LinkServer, ManagerLink } from '../../transport/index.js';
import type { WebSocket } from 'ws';
import { LINK_CLOSE } from '../../transport/close-codes.js';
import { createApiServer } from '../../transport/tls-server.js';
import { loadServerTls, type TlsFiles, type TlsServerCredentials } from '../../lib/tls.js';
import { ensureClusterId, Membership } from './membership.js';
import { AdminServer, type AdminRequest } from '../../transport/admin-server.js';
import { actorChild, adminCall, nactSupervisorChild, type Inspectable, type NactRef } from '../supervision/index.js';
import { ClusterRoot, within } from '../cluster/index.js';
import { ClusterTree, localSource, withServices } from './tree.js';
import type { ManagerContext, ManagerMessage, NodeLink } from './context.js';
import { ManagerMetrics } from './metrics.js';
import { withManagers } from '../../lib/ha/managers-tree.js';
import { nodeActor } from './node.js';
import { reconcilerActor } from './reconciler.js';
import { schedulerActor } from './scheduler.js';
import { defaultTaskId, serviceActor, setServiceState } from './service.js';
import { storeActor } from './store.js';
import { LogRouter } from '../../transport/logs-manager.js';
import { openLogs, type LogTarget } from '../../transport/logs-api.js';
import type { LogEvent, LogReadOptions } from '../../lib/logs/index.js';

/** How a manager is started. */
export interface ManagerOptions {
  /** Where the store (`goat.db`) and a generated token live. */
  dataDir: string;
  /** `host:port` to listen on. @default '127.0.0.1:7070' */
  listen?: string;
  /** False: no HTTP server at all, links come only through {@link Manager.attachLink} (the deterministic simulation). @default true */
  http?: boolean;
  /** The cluster token; else GOAT_TOKEN, else `<dataDir>/token` (generated on first start). */
  token?: string;
  /** Heartbeat interval told to workers, ms. @default DETECTOR_DEFAULTS.heartbeatMs */
  heartbeatMs?: number;
  /** A node is down after this long without a heartbeat (the manager's own stalls discounted), ms. @default DETECTOR_DEFAULTS.downAfterMs */
  downAfterMs?: number;
  /** The rest of the failure-detector configuration (suspect, link silence); `heartbeatMs`/`downAfterMs` above win. @default detectorConfig() */
  detector?: Partial<DetectorConfig>;
  /** Where time comes from, for every decision and timer of the manager. @default systemClock */
  clock?: Clock;
  /**
   * The store: a factory the `store` actor calls at start and after a restart,
   * or a store opened by the caller (HA: the leader's etcd store; closed by
   * {@link Manager.stop}, and not reopened by a restart). @default SQLite at `<dataDir>/goat.db`
   */
  store?: StoreFactory | Store;
  /** HTTP API settings: `/metrics` behind the token, limits of event streams, whether reads may be stale (HA). */
  api?: Pick<ApiOptions, 'metricsToken' | 'events' | 'stale'>;
  /** The leader's epoch (HA), sent in `welcome` and with every command. @default 0 */
  epoch?: number;
  /** Makes the random part of task ids (a seeded one in a simulation). @default nanoid */
  newId?: () => string;
  /** After a start, no node is declared down during this grace, ms. @default 2 × downAfterMs */
  recoveryGraceMs?: number;
  /** Placement scorer. @default 'spread' */
  scorer?: 'spread' | 'binpack';
  /** Where it logs. @default consola tagged `goat:manager` */
  logger?: Logger;
  /**
   * The process's `cluster` root to start under, as `/cluster/manager` (`goat-cluster start`: beside the local
   * worker). @default a root of its own (its own nact system), stopped with the manager
   */
  root?: ClusterRoot;
  /**
   * Serve the API and worker links over TLS (https://, wss://) with this
   * certificate and key (PEM files, or their contents already read). An
   * unreadable or mismatched pair is refused at start (GOAT_ERR_TLS_FILE).
   * @default plain HTTP
   */
  tls?: TlsFiles | TlsServerCredentials;
  /** Lists the cluster's managers (HA: from etcd). @default this manager alone */
  managers?: () => Promise<ManagerInfo[]>;
  /** The managers as last known, shown as a `managers` node in the tree (HA). @default none shown */
  managersNow?: () => readonly ManagerInfo[];
}

/** How often a node's liveness is checked (ms): a quarter of a second keeps a verdict within 250 ms of due. */
const CHECK_MS = 250;

/**
 * The least time between two resyncs after lost groups of writes (ms): every
 * link is closed and each worker says hello again. A store that keeps failing
 * (disk full) would otherwise make the links flap with every group; 5 s is
 * longer than a worker's reconnect and shorter than the sweep's use.
 */
export const STORE_LOST_RESYNC_MS = 5_000;

/** A running manager. */
export class Manager implements ManagerApi {
  /** The manager's own supervisor, `/cluster/manager`. */
  #root!: Supervisor<NactRef>;
  /** The process's root, `/cluster`. */
  #clusterRoot!: ClusterRoot;
  /** Whether the root is the manager's own (stopped with it). */
  #ownsRoot = false;
  #offBus: (() => void) | undefined;
  #server!: Server;
  #links!: LinkServer;
  #ready = false;
  #admin: AdminServer | undefined;
  #membership!: Membership;
  /** The workers' subtrees under `nodes/<id>` (actors/manager/tree.ts). */
  readonly #cluster = new ClusterTree();
  /** Expired Idempotency-Keys are deleted on this timer (they would otherwise stay until looked up). */
  #pruneTimer: TimerId | undefined;
  /** A resync after a lost group, put off to keep links from flapping (see storeLost). */
  #resyncTimer: TimerId | undefined;
  #lastResyncAt: number | undefined;
  #nodesSup: Supervisor<NactRef> | undefined;
  #servicesSup: Supervisor<NactRef> | undefined;
  /** Children being started under `nodes` or `services`, with the messages that wait for them. */
  readonly #starting = new Map<string, ManagerMessage[]>();
  /** The open link of each node (the transport's registry; the node's actor owns what it says). */
  readonly #nodeLinks = new Map<string, NodeLink>();
  readonly #metrics: ManagerMetrics;
  readonly #journal: Journal;
  readonly #context: ManagerContext;
  readonly #clock: Clock;
  /** Log streams between workers' links and readers. */
  readonly logRouter = new LogRouter();

  private constructor(
    /** The store the `store` actor owns, reached through its cell. */
    readonly store: StoreCell,
    /** The token and where it came from. */
    readonly token: ResolvedToken,
    private readonly options: ManagerOptions,
  ) {
    this.#clock = options.clock ?? systemClock;
    this.#journal = new Journal(store, this.#clock);
    this.#metrics = new ManagerMetrics(store, this.#clock, this.options.epoch ?? 0);
    const detector = managerDetector(options);
    this.#context = {
      journal: this.#journal,
      clock: this.#clock,
      startedAt: this.#clock.now(),
      settings: {
        detector,
        recoveryGraceMs: options.recoveryGraceMs ?? 2 * detector.downAfterMs,
        checkMs: CHECK_MS,
        scorer: options.scorer ?? 'spread',
        newId: options.newId ?? defaultTaskId,
        epoch: options.epoch ?? 0,
      },
      tell: (path, message) => this.tell(path, message),
      linkOf: (id) => this.#nodeLinks.get(id),
      onHeartbeat: (link) => this.#metrics.heartbeat(link),
      onPlacement: (ms, placed) => this.#metrics.placement(ms, placed),
      rollback: (name, message) => {
        try {
          this.#rollback(name, message);
        } catch { /* no previous spec: nothing to roll back to */ }
      },
    };
  }

  /** Opens the store (refusing a corrupt one), starts the tree and listens. */
  static async start(options: ManagerOptions): Promise<Manager> {
    // Nothing lives in dataDir when the store and the token are given (the simulation touches no disk).
    if (!(options.store && options.token)) await mkdir(options.dataDir, { recursive: true });
    const token = await resolveToken({ token: options.token, dataDir: options.dataDir });
    const detector = managerDetector(options); // a bad configuration is refused before anything is opened
    const tls = options.tls && typeof options.tls.cert === 'string' ? loadServerTls(options.tls as TlsFiles) : (options.tls as TlsServerCredentials | undefined);
    const given = options.store;
    const late: { manager?: Manager } = {}; // the manager, once made (a lost group asks its workers again)
    const store = new StoreCell(typeof given === 'function' ? given : given ? () => given : () => openSqliteStore(join(options.dataDir, 'goat.db'), {
      // One fsync per turn of the event loop; the API and the commands to workers wait for it (see #acked, afterCommit).
      groupCommit: true,
      // Nothing of a lost group was acknowledged or sent; what workers reported in it is asked again (storeLost).
      onLost: (err) => {
        (options.logger ?? consola.withTag('goat:manager')).warn(`store: a group of writes was not committed (${(err as Error).message}); nothing of it was acknowledged`);
        late.manager?.storeLost();
      },
    }));
    // Opened here first, so that a corrupt store is refused with its own error before anything listens; the
    // `store` actor owns it from then on (its terminate closes it, its restart reopens it from disk).
    store.open();
    // The cluster's identity, made once and kept in the store: workers of another cluster are refused (membership.ts).
    ensureClusterId(store);
    if (store.pending) await store.committed();
    const manager = new Manager(store, token, { ...options, detector, ...(tls ? { tls } : {}) });
    late.manager = manager;
    try {
      await manager.#boot();
    } catch (err) {
      store.close();
      throw err;
    }
    return manager;
  }

  /** The API's base URL, e.g. `http://127.0.0.1:7070`. */
  get url(): string {
    const a = this.#server.address() as AddressInfo;
    return `${this.options.tls ? 'https' : 'http'}://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** The cluster id kept in its store (workers remember it and must match it). */
  get clusterId(): string {
    return this.#membership.clusterId;
  }

  /** The port it listens on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Resolves once the manager's root supervisor gave up: its error and the chain of failures that led there. */
  whenFailed(): Promise<{ error: GoatError; chain: string }> {
    return this.#clusterRoot.whenFailed();
  }

  /** Stops listening, closes links and the store. Workers keep their tasks. */
  async stop(): Promise<void> {
    this.#ready = false;
    if (this.#pruneTimer !== undefined) this.#clock.clearTimeout(this.#pruneTimer);
    if (this.#resyncTimer !== undefined) this.#clock.clearTimeout(this.#resyncTimer);
    this.#resyncTimer = undefined;
    await this.#clusterRoot.remove('manager');
    this.#offBus?.();
    if (this.#ownsRoot) await this.#clusterRoot.stop();
  }

  /** Is node `id` linked right now? */
  isLinked(id: string): boolean {
    return this.#nodeLinks.get(id)?.open === true;
  }

  // --- ManagerApi: desired state is committed here, then its controller is told ---

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
    const spec = normalizeServiceSpec(name !== undefined && body && typeof body === 'object' && !('name' in body) ? { ...body, name } : body);
    if (name !== undefined && spec.name !== name) {
      throw new GoatError('GOAT_ERR_INVALID_SPEC', `invalid service spec: name: '${spec.name}' does not match the URL's '${name}'`, { details: { field: 'name' } });
    }
    const before = this.store.getService(spec.name);
    const record = this.#journal.tx(() => {
      let r = this.store.putService(spec, this.#clock.now());
      if (!before || r.version !== before.version) this.#journal.event('service.updated', spec.name, { version: r.version, replicas: spec.replicas });
      // The spec a rollback goes back to (Swarm's PreviousSpec): the one before the last change of the task.
      // The rollout starts with the change, so whoever reads the service next (`update --wait`) sees it, not the last one's status.
      if (before && JSON.stringify(before.spec.task) !== JSON.stringify(r.spec.task)) {
        const message = 'update in progress';
        r = setServiceState(this.#context, r, { previousSpec: before.spec, update: { state: 'updating', message, version: r.version, startedAt: this.#clock.now() } });
        this.#journal.event('update.started', spec.name, { version: r.version, message });
      } else if (before && r.version !== before.version && before.update && before.update.version === before.version) {
        // A change that leaves the task as it was (replicas, the update or reschedule settings) starts no rollout: the
        // one under way goes on (or its outcome stands) with the new version, its start and its new tasks counted as
        // they were. Left at the old version, a scale mid-rollout restarted its count (or, with no slot left outdated,
        // left it `updating` for good: found by the simulation, CI seeds 19, 35, 50).
        r = setServiceState(this.#context, r, { update: { ...before.update, version: r.version } });
      }
      return r;
    });
    await this.#acked(undefined);
    this.tell(`/cluster/manager/services/${spec.name}`, { type: 'reconcile' });
    return { record, created: !before };
  }
  async rollbackService(name: string): Promise<ServiceRecord> {
    const record = this.#rollback(name, 'rollback requested');
    return this.#acked(record);
  }

  /** Rolls a service back to its previous spec, with its `rollback` settings; 409 GOAT_ERR_NO_PREVIOUS_SPEC when there is none. */
  #rollback(name: string, message: string): ServiceRecord {
    const s = this.store.getService(name);
    if (!s) throw new GoatError('GOAT_ERR_NOT_FOUND', `no service '${name}'`, { details: { service: name } });
    if (!s.previousSpec) {
      throw new GoatError('GOAT_ERR_NO_PREVIOUS_SPEC', `service '${name}' has no previous spec to roll back to`, { details: { service: name } });
    }
    const previous = s.previousSpec;
    const now = this.#clock.now();
    const record = this.#journal.tx(() => {
      const r = this.store.putService(previous, now);
      this.#journal.event('service.updated', name, { version: r.version, replicas: previous.replicas });
      this.#journal.event('update.rollback', name, { version: r.version, message });
      return setServiceState(this.#context, r, { previousSpec: null, update: { state: 'rolling_back', message, version: r.version, startedAt: now } });
    });
    this.tell(`/cluster/manager/services/${name}`, { type: 'reconcile' });
    return record;
  }

  /** `result` once the writes that made it are durable (at once with SQLite): the API acknowledges only then. */
  async #acked<T>(result: T): Promise<T> {
    if (this.store.pending) await this.store.committed();
    return result;
  }
  async scaleService(name: string, replicas: number): Promise<ServiceRecord> {
    const s = this.store.getService(name);
    if (!s) throw new GoatError('GOAT_ERR_NOT_FOUND', `no service '${name}'`, { details: { service: name } });
    return (await this.putService({ ...s.spec, replicas })).record;
  }
  async deleteService(name: string): Promise<boolean> {
    const deleted = this.#journal.tx(() => {
      const ok = this.store.deleteService(name);
      if (ok) this.#journal.event('service.deleted', name, {});
      return ok;
    });
    await this.#acked(undefined);
    if (deleted) this.tell(`/cluster/manager/services/${name}`, { type: 'reconcile' });
    return deleted;
  }
  listTasks(filter: { service?: string; state?: string; node?: string }): TaskRecord[] {
    return this.store.listTasks(filter);
  }
  getTask(id: string): TaskRecord | undefined {
    return this.store.getTask(id);
  }
  listNodes(): NodeRecord[] {
    const refused = this.#membership.refused();
    if (refused.length === 0) return this.store.listNodes();
    const ids = new Set(refused.map((n) => n.id));
    return [...this.store.listNodes().filter((n) => !ids.has(n.id)), ...refused];
  }
  /** Lets a refused node of another cluster in at its next hello, with its tasks as they run (membership.ts). */
  adoptNode(id: string): Promise<NodeRecord> {
    return Promise.resolve(this.#membership.adopt(id));
  }
  /** Drains a node: no new tasks; its tasks are stopped (by its actor) and re-placed elsewhere (by their controllers). */
  async drainNode(id: string): Promise<NodeRecord> {
    const node = this.store.getNode(id);
    if (!node) throw new GoatError('GOAT_ERR_NOT_FOUND', `no node '${id}'`, { details: { node: id } });
    const now = this.#clock.now();
    const drained = { ...node, status: 'draining' as const, updatedAt: now };
    const services = new Set<string>();
    this.#journal.tx(() => {
      this.store.putNode(drained);
      this.#journal.event('node.status', id, { status: 'draining' });
      const stop = this.store.listActiveTasks({ node: id }).filter(isLive).map((t) => ({ ...t, desired: 'stopped' as const, updatedAt: now }));
      this.store.putTasks(stop);
      for (const t of stop) services.add(t.service);
    });
    await this.#acked(undefined);
    this.tell(`/cluster/manager/nodes/${id}`, { type: 'sync' });
    for (const service of services) this.tell(`/cluster/manager/services/${service}`, { type: 'reconcile' });
    return drained;
  }
  /** Undoes a drain: the node takes new tasks again (`ready` when linked, else `suspect` until it says hello). */
  async activateNode(id: string): Promise<NodeRecord> {
    const node = this.store.getNode(id);
    if (!node) throw new GoatError('GOAT_ERR_NOT_FOUND', `no node '${id}'`, { details: { node: id } });
    if (node.status !== 'draining') return node;
    const next = { ...node, status: this.isLinked(id) ? ('ready' as const) : ('suspect' as const), updatedAt: this.#clock.now() };
    this.#journal.tx(() => {
      this.store.putNode(next);
      this.#journal.event('node.status', id, { status: next.status });
    });
    await this.#acked(undefined);
    this.tell(`/cluster/manager/nodes/${id}`, { type: 'sync' });
    this.tell('/cluster/manager/scheduler', { type: 'place' });
    return next;
  }
  eventsSince(seq: number, limit: number): ClusterEvent[] {
    return this.store.eventsSince(seq, limit);
  }
  subscribeEvents(listener: (e: ClusterEvent) => void): () => void {
    return this.#journal.subscribe(listener);
  }
  openLogs(target: LogTarget, options: LogReadOptions): AsyncIterableIterator<LogEvent> {
    return openLogs({ router: this.logRouter, getTask: (id) => this.store.getTask(id), getService: (n) => this.store.getService(n), listTasks: (f) => this.store.listTasks(f), getNode: (id) => this.store.getNode(id) }, target, options);
  }
  /** The tree of this process from `/cluster`, each linked worker's tree under its `nodes/<id>`. */
  tree(): TreeNode {
    const root = this.#clusterRoot.snapshot();
    const withInfo = (c: TreeNode): TreeNode => withServices(this.#cluster.graft(c), (name) => serviceInfo(this.store.getService(name), this.store.listCurrentTasks(name, Number.MAX_SAFE_INTEGER)));
    if (root.children) root.children = root.children.map((c) => (c.path === this.#root.path ? withInfo(c) : c));
    // Several managers on etcd: a `managers` node under the cluster root lists them.
    const managers = this.options.managersNow?.();
    return managers ? withManagers(root, managers) : root;
  }

  /** Shows (and routes admin calls to) the tree of a worker running in this process under `/cluster/manager/nodes/<nodeId>`. */
  attachLocalWorker(nodeId: string, tree: () => TreeNode, inspect: Inspectable = { inspect: () => undefined }): void {
    this.#cluster.attach(nodeId, localSource(tree, inspect));
  }
  metrics(): Promise<{ contentType: string; body: string }> {
    return this.#metrics.render();
  }
  idempotent(key: string): { bodyHash: string; status: number; response: unknown } | undefined {
    return this.store.getIdempotency(key, this.#clock.now());
  }
  remember(key: string, rec: { bodyHash: string; status: number; response: unknown }): void {
    this.store.putIdempotency(key, rec, this.#clock.now() + 24 * 3_600_000); // pruned by the manager's minute timer
  }
  lastEventSeq(): number {
    return this.store.lastEventSeq();
  }
  async probeWrite(): Promise<void> {
    this.store.setMeta('diskProbeAt', String(this.#clock.now()));
    if (this.store.pending) await this.store.committed();
  }

  /**
   * A worker's WebSocket, already upgraded (and its token checked), taken as
   * the HTTP server's would be: hello, cluster admission, welcome with this
   * manager's epoch, then {@link attachLink}. The simulation's sockets come
   * this way (`http: false`).
   */
  acceptSocket(socket: WebSocket, address: string): void {
    this.#links.acceptSocket(socket, address);
  }

  /** Hears every link made (after its hello, before its node's actor gets it); returns the function that stops. */
  onLink(listener: (link: ManagerLink) => void): () => void {
    return this.#links.onLink(listener);
  }

  /**
   * A group of writes failed to commit (group commit; the store's
   * `onLost`). Nothing of it was acknowledged or sent, but what workers
   * reported in it (a task failed, stopped) is gone, and no worker sends a
   * report twice: every link is closed (RESYNC) so that each worker says
   * hello again with all its tasks, and the reconciler sweeps the services.
   * Found by the simulation (CI seed 199: a failed start's report lost, its
   * slot believed starting for good). A store given as a factory calls it
   * from its own `onLost`.
   */
  storeLost(): void {
    // At most once per STORE_LOST_RESYNC_MS: a store that keeps failing (disk full) must not make the links flap
    // with every group; a loss meanwhile is answered by one resync at the end of the interval.
    const now = this.#clock.now();
    if (this.#resyncTimer !== undefined) return;
    const wait = this.#lastResyncAt === undefined ? 0 : this.#lastResyncAt + STORE_LOST_RESYNC_MS - now;
    if (wait > 0) {
      this.#resyncTimer = this.#clock.setTimeout(() => {
        this.#resyncTimer = undefined;
        this.storeLost();
      }, wait);
      (this.#resyncTimer as { unref?: () => void }).unref?.();
      return;
    }
    this.#lastResyncAt = now;
    for (const link of this.#nodeLinks.values()) if (link.open) link.close(LINK_CLOSE.RESYNC.code, 'the store lost a group of writes: say hello again');
    this.tell('/cluster/manager/reconciler', { type: 'sweep' });
  }

  /**
   * A worker's link (after its hello): handed to its node's actor, started
   * on first need. The LinkServer calls this for every WebSocket link; a
   * simulation can call it with any {@link NodeLink}.
   */
  attachLink(link: NodeLink): void {
    const id = link.nodeId;
    const previous = this.#nodeLinks.get(id);
    this.#nodeLinks.set(id, link);
    // A worker's tree arrives over its link (tree_snapshot/tree_delta frames); admin calls to it go back the same way.
    if (link instanceof ManagerLink) {
      this.#cluster.linked(link);
      // Log streams (`goat-cluster logs`) travel over the same link.
      this.logRouter.attach(id, link);
      const offLogs = link.on('logs', (f) => this.logRouter.frame(id, f));
      link.on('close', () => {
        offLogs();
        this.logRouter.detach(id, link);
      });
    }
    link.on('close', () => {
      if (this.#nodeLinks.get(id) === link) this.#nodeLinks.delete(id);
    });
    if (previous && previous !== link && previous.open) previous.close(4009, 'replaced by a newer link of the same node');
    this.tell(`/cluster/manager/nodes/${id}`, { type: 'linked', link });
  }

  /**
   * Delivers `message` (data) to the actor at `path`. A service's controller
   * and a node's actor are started on first need (the message waits for
   * them). False when nothing can take it (the tree is not up, or stopping).
   */
  tell(path: string, message: ManagerMessage): boolean {
    const child = /^\/cluster\/manager\/(services|nodes)\/([^/]+)$/.exec(path);
    if (child) {
      const [, kind, id] = child as unknown as [string, 'services' | 'nodes', string];
      const sup = kind === 'services' ? this.#servicesSup : this.#nodesSup;
      if (!sup || sup.state !== 'running') return false;
      return this.#deliverOrStart(sup, id, () => (kind === 'services' ? serviceActor(this.#context, id) : nodeActor(this.#context, id)), message);
    }
    const delivery = this.#root?.lookup(path)?.send(message);
    return delivery === 'delivered' || delivery === 'stashed';
  }

  managers(): Promise<ManagerInfo[]> {
    return this.options.managers?.() ?? Promise.resolve([{ id: 'manager', url: this.url, leader: true, epoch: this.options.epoch ?? 0, healthy: true }]);
  }

  // --- internals -----------------------------------------------------------------

  /** Sends to child `id` of `sup`; when it is absent or ended, (re)starts it and sends once it runs. */
  #deliverOrStart(sup: Supervisor<NactRef>, id: string, spec: () => ChildSpec<NactRef>, message: ManagerMessage): boolean {
    const key = `${sup.path}/${id}`;
    const waiting = this.#starting.get(key);
    if (waiting) {
      waiting.push(message);
      return true;
    }
    const ref = sup.lookup(key);
    if (ref) {
      const delivery = ref.send(message);
      if (delivery === 'delivered' || delivery === 'stashed') return true;
    }
    const queue: ManagerMessage[] = [message];
    this.#starting.set(key, queue);
    const start = async (): Promise<void> => {
      if (ref) await sup.stopChild(id).catch(() => undefined); // an ended one: forget it first
      await sup.startChild(spec());
    };
    void start()
      .then(() => {
        this.#starting.delete(key);
        for (const m of queue) sup.ref(id).send(m);
      }, () => this.#starting.delete(key));
    return true;
  }

  async #boot(): Promise<void> {
    const log = this.options.logger ?? consola.withTag('goat:manager');
    this.#ownsRoot = this.options.root === undefined;
    this.#clusterRoot = this.options.root ?? await ClusterRoot.start({ clock: this.#clock });
    this.#offBus = this.#clusterRoot.bus.subscribe((e) => {
      if (within(e.path, '/cluster/manager')) this.#onSupervision(e);
    });
    const epoch = this.options.epoch ?? 0;
    this.#membership = new Membership(ensureClusterId(this.store), { store: this.store, journal: this.#journal, clock: this.#clock, log, reconcile: (name) => void this.tell(`/cluster/manager/services/${name}`, { type: 'reconcile' }) });
    const http = this.options.http !== false;
    // Without HTTP, sockets come through acceptSocket (the simulation): the same hello, admission and epoch.
    this.#links = new LinkServer({ token: this.token.token, detector: this.#context.settings.detector, clock: this.#clock, epoch: () => epoch, admit: (hello) => this.#membership.admit(hello) });
    if (http) {
      this.#server = createApiServer(createApiHandler(this, { ...this.options.api, token: this.token.token }), this.options.tls as TlsServerCredentials | undefined);
      this.#links.attach(this.#server);
      this.#admin = new AdminServer({ handle: (req) => this.#adminRequest(req), subscribe: (l) => this.#journal.subscribe(l) }, this.token.token);
      this.#admin.attach(this.#server);
    }
    const [host, port] = http ? splitListen(this.options.listen ?? '127.0.0.1:7070') : ['', ''];
    const mc = this.#context;
    try {
      this.#root = await this.#clusterRoot.add({
        // The manager gives up after 10 restarts of its parts in a minute (a store that cannot be reopened, a port
        // lost), and with it the process (`cluster`'s budget is 0).
        id: 'manager', maxRestarts: 10, windowMs: 60_000,
        children: [
          storeActor(mc, this.store),
          schedulerActor(mc),
          reconcilerActor(mc, (id) => void this.tell(`/cluster/manager/nodes/${id}`, { type: 'sync' })),
          // Node actors are transient: one that crashes is rebuilt from the store and its worker's hello. More
          // than 50 crashes in 10 s across all nodes means something shared is broken: the manager restarts them all.
          nactSupervisorChild({ id: 'nodes', maxRestarts: 50, windowMs: 10_000, onStarted: (sup) => (this.#nodesSup = sup) }),
          // Likewise for service controllers: each re-reads its slots from the store at restart, with backoff.
          nactSupervisorChild({ id: 'services', maxRestarts: 50, windowMs: 10_000, onStarted: (sup) => (this.#servicesSup = sup) }),
          actorChild<null, never>({
            id: 'api',
            init: async () => {
              if (!http) return null; // links only through attachLink
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
              if (!http) return;
              this.#links.close();
              this.#admin?.close();
              this.#server.closeAllConnections();
              await new Promise<void>((resolve) => this.#server.close(() => resolve()));
            },
          }),
        ],
      });
    } catch (err) {
      this.#offBus?.();
      if (this.#ownsRoot) await this.#clusterRoot.stop();
      throw err;
    }
    if (this.#root.snapshot().children?.find((c) => c.id === 'api')?.status !== 'running') {
      const err = this.#root.snapshot().children?.find((c) => c.id === 'api')?.lastError;
      await this.#clusterRoot.remove('manager');
      this.#offBus?.();
      if (this.#ownsRoot) await this.#clusterRoot.stop();
      throw new GoatError('GOAT_ERR_USAGE', `cannot listen on ${host}:${port}: ${err?.message ?? 'unknown error'}`, { details: { listen: `${host}:${port}` } });
    }
    this.#links.onLink((link) => this.attachLink(link));
    // Its own sweep at start may run before `nodes` and `services` exist: once more now that the whole tree runs.
    this.tell('/cluster/manager/reconciler', { type: 'sweep' });
    const prune = (): void => {
      try {
        this.store.pruneIdempotency(this.#clock.now());
      } catch (err) {
        // A timer's throw would take the process down; the keys are pruned next time (expired ones are never used meanwhile).
        log.warn(`pruning expired Idempotency-Keys failed, retried in a minute: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.#pruneTimer = this.#clock.setTimeout(prune, 60_000);
      (this.#pruneTimer as { unref?: () => void }).unref?.();
    };
    this.#pruneTimer = this.#clock.setTimeout(prune, 60_000);
    (this.#pruneTimer as { unref?: () => void }).unref?.();
    this.#ready = true;
    const tokenWhere = this.token.file ? `token in ${this.token.file}` : `token from ${this.token.source === 'env' ? 'GOAT_TOKEN' : 'the options'}`;
    log.info(http ? `manager API on ${this.url} (${tokenWhere})` : 'manager started without HTTP (links through attachLink)');
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
        return this.#cluster.route(`${this.#root.path}/nodes`, req) ?? adminCall(this.#clusterRoot, req);
    }
  }

  /** A service controller or a node actor that ended normally is removed from the tree (no stopped children pile up). */
  #onSupervision(e: SupervisorEvent): void {
    if (e.type !== 'child_stopped' || e.reason !== 'normal') return;
    const m = /^\/cluster\/manager\/(services|nodes)\/([^/]+)$/.exec(e.path);
    if (!m) return;
    const sup = m[1] === 'services' ? this.#servicesSup : this.#nodesSup;
    const id = m[2]!;
    if (!sup || sup.state !== 'running' || this.#starting.has(`${sup.path}/${id}`)) return;
    // Queued at once, so that it runs before any later start of the same id (which then finds nothing to forget).
    sup.stopChild(id).catch(() => undefined);
  }
}

/** The detector configuration of a manager: its options over the one set of defaults. */
function managerDetector(o: ManagerOptions): DetectorConfig {
  return detectorConfig({
    ...o.detector,
    ...(o.heartbeatMs === undefined ? {} : { heartbeatMs: o.heartbeatMs }),
    ...(o.downAfterMs === undefined ? {} : { downAfterMs: o.downAfterMs }),
  });
}

function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(':');
  if (i <= 0) throw new GoatError('GOAT_ERR_USAGE', `--listen wants HOST:PORT, got '${listen}'`, { details: { field: 'listen' } });
  return [listen.slice(0, i).replace(/^\[|\]$/g, ''), listen.slice(i + 1)];
}
