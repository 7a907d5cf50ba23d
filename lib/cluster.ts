/**
 * `createCluster(config)`: Goat inside a Node service — a manager and a
 * local worker in this process (what `goat-cluster start` runs), driven
 * through methods instead of HTTP.
 */
import { Manager } from '../actors/manager/manager.js';
import { ClusterRoot } from '../actors/cluster/index.js';
import { joinCluster, type JoinedWorker } from '../actors/worker/index.js';
import { resolveConfig, type GoatConfig, type ResolvedConfig } from './config/index.js';
import { GoatError } from './errors.js';
import type { Logger } from './log.js';
import type { ClusterEvent, NodeRecord, ServiceRecord, ServiceSpecInput, TaskRecord } from './model/index.js';
import type { TreeNode } from './supervision/index.js';
import type { LogEvent, LogReadOptions } from './logs/index.js';

/** Options of {@link createCluster} besides the config. */
export interface CreateClusterOptions {
  /** Where it logs. @default consola */
  logger?: Logger;
  /** Environment for `GOAT_*` overrides. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** A cluster running in this process. */
export interface Cluster {
  /** Starts the manager and the local worker, then applies the config's services. */
  start(): Promise<void>;
  /** Stops both; the tasks keep running and the next start on the same data dir adopts them. */
  stop(): Promise<void>;
  /** The manager's API URL (after start). */
  readonly url: string;
  /** The cluster token (after start). */
  readonly token: string;
  /** Creates or updates a service. */
  apply(service: ServiceSpecInput): Promise<ServiceRecord>;
  /** Changes a service's replica count. */
  scale(name: string, replicas: number): Promise<ServiceRecord>;
  /**
   * Deletes a service; resolves once its tasks have stopped (containers and
   * processes gone), so a `stop()` right after leaves nothing running. False
   * when it did not exist. Rejects with GOAT_ERR_NOT_READY after `timeoutMs`
   * (default 60 s) saying which tasks still run; they are still being stopped.
   */
  remove(name: string, options?: { timeoutMs?: number }): Promise<boolean>;
  services(): ServiceRecord[];
  tasks(filter?: { service?: string; state?: string; node?: string }): TaskRecord[];
  nodes(): NodeRecord[];
  /** The event log from `since` (default: from now on), then live, as an async iterator; `break` ends it. */
  events(options?: { since?: number }): AsyncIterableIterator<ClusterEvent>;
  /**
   * A task's or a service's logs (a task id has dots, a service name none) as
   * an async iterator of events — lines with their task, stream and time,
   * notices of dropped lines, errors; with `follow`, until the tasks end or
   * `break`. Throws GOAT_ERR_NOT_FOUND or GOAT_ERR_NODE_UNREACHABLE at once.
   */
  logs(target: string, options?: LogReadOptions): AsyncIterableIterator<LogEvent>;
  /** The supervision tree: `/cluster` with the manager (`/cluster/manager`) and the local worker (`/cluster/worker`). */
  tree(): TreeNode;
  /** Opens the REPL on this cluster, in this process (stdin/stdout unless given); resolves when it exits. */
  repl(options?: { input?: NodeJS.ReadableStream; output?: NodeJS.WritableStream; historyFile?: string }): Promise<void>;
}

/**
 * Makes a cluster from a config (the same shape as `cluster.config.ts`); nothing runs until `start()`.
 * `manager.etcd` (or GOAT_ETCD) is refused with GOAT_ERR_NOT_IMPLEMENTED: an in-process cluster has one
 * manager on SQLite; several managers on etcd are `goat-cluster manager --etcd` processes.
 */
export function createCluster(config: GoatConfig = {}, options: CreateClusterOptions = {}): Cluster {
  const resolved: ResolvedConfig = resolveConfig(config, null, options.env ?? process.env);
  if (resolved.manager.etcd) {
    // Refused rather than silently run on SQLite: several managers are separate processes (`goat-cluster manager --etcd`).
    throw new GoatError('GOAT_ERR_NOT_IMPLEMENTED', `createCluster runs one manager on SQLite in this process; manager.etcd${(options.env ?? process.env)['GOAT_ETCD'] ? ' (GOAT_ETCD)' : ''} asks for several managers on etcd: run \`goat-cluster manager --etcd ${resolved.manager.etcd.endpoints.join(',')}\` processes and join them (joinCluster with their URLs), or leave manager.etcd out`, {
      details: { field: 'manager.etcd', endpoints: resolved.manager.etcd.endpoints },
    });
  }
  let root: ClusterRoot | undefined;
  let manager: Manager | undefined;
  let worker: JoinedWorker | undefined;
  const running = (): { manager: Manager; worker: JoinedWorker } => {
    if (!manager || !worker) throw new GoatError('GOAT_ERR_NOT_READY', 'the cluster is not started: call start() first');
    return { manager, worker };
  };
  return {
    async start() {
      if (manager) return;
      const m = resolved.manager;
      // One tree for the process: the manager and the local worker under one `cluster` root.
      const r = await ClusterRoot.start();
      root = r;
      try {
        manager = await Manager.start({ root: r,
        dataDir: m.dataDir, listen: m.listen, heartbeatMs: m.heartbeatMs, downAfterMs: m.downAfterMs, scorer: m.scorer,
          ...(resolved.cluster.token ? { token: resolved.cluster.token } : {}), ...(options.logger ? { logger: options.logger } : {}),
        });
      } catch (err) {
        await r.stop();
        root = undefined;
        throw err;
      }
      try {
        worker = await joinCluster({ root: r,
          join: manager.url, token: manager.token.token, dataDir: resolved.worker.dataDir, runtime: resolved.worker.runtime,
          name: resolved.worker.name ?? 'local', labels: resolved.worker.labels, cluster: resolved.cluster.name,
          allowProcess: resolved.worker.allowProcess, logRotation: resolved.worker.logs,
          ...(options.logger ? { logger: options.logger } : {}),
        });
        for (const svc of resolved.services({ runtime: worker.worker.runtimeChoice.kind })) await manager.putService(svc);
      } catch (err) {
        await worker?.stop();
        await manager.stop();
        await r.stop();
        manager = worker = root = undefined;
        throw err;
      }
    },
    async stop() {
      await worker?.stop();
      await manager?.stop();
      await root?.stop();
      manager = worker = root = undefined;
    },
    get url() {
      return running().manager.url;
    },
    get token() {
      return running().manager.token.token;
    },
    async apply(service) {
      return (await running().manager.putService(service)).record;
    },
    scale: (name, replicas) => running().manager.scaleService(name, replicas),
    async remove(name, o = {}) {
      const { manager: m } = running();
      if (!(await m.deleteService(name))) return false;
      const deadline = Date.now() + (o.timeoutMs ?? 60_000);
      for (;;) {
        const live = m.listTasks({ service: name }).filter((t) => t.node !== null && !['stopped', 'completed', 'failed', 'lost'].includes(t.state));
        if (live.length === 0) return true;
        if (Date.now() > deadline) {
          throw new GoatError('GOAT_ERR_NOT_READY', `service ${name} is deleted but ${live.length} task(s) still run: ${live.map((t) => `${t.id} (${t.state})`).join(', ')}; they are being stopped`, { temporary: true, details: { service: name, tasks: live.map((t) => t.id) } });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    services: () => running().manager.listServices(),
    tasks: (filter = {}) => running().manager.listTasks(filter),
    nodes: () => running().manager.listNodes(),
    events: (o = {}) => eventStream(running().manager, o.since),
    logs: (target, o = {}) => running().manager.openLogs(target.includes('.') ? { task: target } : { service: target }, o),
    tree: () => running().manager.tree(),
    async repl(o = {}) {
      const { manager: m } = running();
      const { startRepl } = await import('./repl/index.js');
      await startRepl({ manager: m.url, token: m.token.token, ...o });
    },
  };
}

/** Past events from `since`, then live ones, in order, without gaps or repeats. */
function eventStream(manager: Manager, since: number | undefined): AsyncIterableIterator<ClusterEvent> {
  const queue: ClusterEvent[] = [];
  let wake: (() => void) | null = null;
  let last = since ?? lastSeq(manager);
  const off = manager.subscribeEvents((e) => {
    queue.push(e);
    wake?.();
  });
  if (since !== undefined) queue.push(...manager.eventsSince(since, 10_000));
  let done = false;
  const iterator: AsyncIterableIterator<ClusterEvent> = {
    async next() {
      for (;;) {
        if (done) return { done: true, value: undefined };
        const e = queue.shift();
        if (e) {
          if (e.seq <= last) continue;
          last = e.seq;
          return { done: false, value: e };
        }
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    },
    async return() {
      done = true;
      off();
      wake?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

function lastSeq(manager: Manager): number {
  return manager.store.lastEventSeq();
}
