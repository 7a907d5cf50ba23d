/**
 * A worker that joins a manager: the {@link Worker} plus its link. The link
 * says hello with the node's full actual state on every (re)connect, applies
 * the manager's `assign` and `stop` commands (each (task, generation) at most
 * once) and reports every task change.
 */
import { LinkClient, type AssignBody, type LinkClientOptions, type StopBody, type TaskReport } from '../../transport/index.js';
import { availableParallelism, totalmem } from 'node:os';
import { planted } from '../../lib/sim/planted.js';
import { TreePublisher } from '../../transport/remote-tree.js';
import { systemClock, type TimerId } from '../../lib/supervision/index.js';
import { adminCall } from '../supervision/index.js';
import { linkChild } from './link.js';
import { WorkerLogStreams } from '../../transport/logs-worker.js';
import { consola } from 'consola';
import { clip, DETECTOR_DEFAULTS } from '../../lib/model/index.js';
import { EpochFile } from '../../lib/ha/epoch-file.js';
import { ClusterIdFile } from '../../lib/cluster-id.js';
import { startFencing } from './fence.js';
import { Worker, type TaskView, type WorkerOptions } from './worker.js';

/**
 * The cap of a worker's reconnect delay: the default down timeout (4 s), well
 * inside the manager's recovery grace (2 × that). A manager restarted (or
 * killed several times in a row) sees every live worker back before the grace
 * ends; with a 30 s cap a worker whose attempts failed while the manager was
 * away came back too late, was declared down, and its tasks were replaced.
 */
export const LINK_BACKOFF_MAX_MS = DETECTOR_DEFAULTS.downAfterMs;

/** How a worker joins. */
export interface JoinOptions extends WorkerOptions {
  /** Manager URL(s): `ws://host:port` or `http://host:port`; `wss://`/`https://` for a manager with TLS. */
  join: string | string[];
  /** CA certificate(s), PEM, trusted for a wss:// manager besides the system's (`--tls-ca`). */
  tlsCa?: string | Buffer;
  /** The cluster token. */
  token: string;
  /** Labels the scheduler's constraints can match. */
  labels?: Record<string, string>;
  /** Reconnect backoff. @default { initialMs: 500, maxMs: 4000 } (see {@link LINK_BACKOFF_MAX_MS}) */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Opens the link's WebSocket (the deterministic simulation's network). @default a real one */
  linkConnect?: LinkClientOptions['connect'];
  /**
   * Where the highest leader epoch seen is kept (the deterministic simulation keeps it in memory: a real file
   * read resolves after an unpredictable number of macrotasks, which broke its replay). @default `<dataDir>/epoch`
   */
  epochs?: EpochStore;
  /**
   * The id of the cluster this node belongs to, remembered from a welcome and said in every hello (a manager
   * of another cluster refuses it). @default `<dataDir>/cluster-id`; in memory when `epochs` is given (the simulation)
   */
  clusterIds?: ClusterIdStore;
}

/** The cluster id a worker remembers (see {@link ClusterIdFile}). */
export interface ClusterIdStore {
  readonly id: string | undefined;
  set(id: string): Promise<void>;
}

/** A {@link ClusterIdStore} in memory only (the simulation's). */
export function memoryClusterIds(id?: string): ClusterIdStore {
  return {
    get id() {
      return id;
    },
    set: (next) => {
      id = next;
      return Promise.resolve();
    },
  };
}

/** The highest leader epoch a worker has seen, and how it is raised (see {@link EpochFile}). */
export interface EpochStore {
  readonly epoch: number;
  raise(epoch: number): Promise<void>;
}

/** An {@link EpochStore} in memory only (the simulation's). */
export function memoryEpochs(epoch = 0): EpochStore {
  return {
    get epoch() {
      return epoch;
    },
    raise: (e) => {
      if (e > epoch) epoch = e;
      return Promise.resolve();
    },
  };
}

/** How often a worker measures the usage its heartbeats report (ms). */
export const USAGE_REFRESH_MS = 5_000;

/** A joined worker. */
export interface JoinedWorker {
  worker: Worker;
  link: LinkClient;
  /** The log streams it serves to the manager. */
  logs: WorkerLogStreams;
  /** Leaves: closes the link and stops the worker's actors; its tasks keep running. */
  stop(): Promise<void>;
}

/** Starts a worker and links it to the manager. */
export async function joinCluster(options: JoinOptions): Promise<JoinedWorker> {
  // Read before the worker starts: a damaged file refuses the start (GOAT_ERR_STORE_CORRUPT) with nothing started.
  const clusterIds: ClusterIdStore = options.clusterIds ?? (options.epochs ? memoryClusterIds() : await ClusterIdFile.load(options.dataDir));
  const worker = await Worker.start(options);
  let usage = { tasks: 0, memoryMb: 0, cpuSeconds: 0 };
  // What the heartbeats carry, measured every USAGE_REFRESH_MS on the worker's clock (never a beat's own cost).
  const clock = options.clock ?? systemClock;
  let refresh: TimerId | null = null;
  const measure = (): void => {
    refresh = clock.setTimeout(() => {
      void worker.usage().then((u) => (usage = u), () => undefined);
      measure();
    }, USAGE_REFRESH_MS);
  };
  measure();
  const logs = new WorkerLogStreams((taskId, generation, o) => worker.runtime.openLogs(taskId, generation, o));
  const urls = (Array.isArray(options.join) ? options.join : [options.join]).map((u) => u.replace(/^http/, 'ws'));
  // Several managers (HA): the highest leader epoch seen is kept on disk; older ones are refused.
  const epochs: EpochStore = options.epochs ?? (await EpochFile.load(options.dataDir));
  // Refused as of another cluster: the next hellos carry the tasks' specs, so that a manager told to adopt this node can take them over.
  let refusedAsForeign = false;
  const link = new LinkClient({
    urls,
    minEpoch: () => epochs.epoch,
    onEpoch: (epoch) => (epoch > epochs.epoch ? epochs.raise(epoch) : undefined),
    token: options.token,
    ...(options.tlsCa === undefined ? {} : { ca: options.tlsCa }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    backoff: { initialMs: options.backoff?.initialMs ?? 500, maxMs: options.backoff?.maxMs ?? LINK_BACKOFF_MAX_MS },
    usage: () => usage,
    unavailable: () => worker.unavailable,
    ...(options.linkConnect ? { connect: options.linkConnect } : {}),
    hello: async () => {
      // With its engine away the node still says hello (its tasks and why it takes none), with the host's size.
      const capacity = await worker.capacity().catch(() => ({ cpus: availableParallelism(), memoryMb: Math.round(totalmem() / 1048576), diskFreeMb: undefined }));
      return {
        nodeId: worker.nodeId, name: worker.state.name, runtime: worker.runtimeChoice.kind, labels: options.labels ?? {},
        capacity: { cpus: capacity.cpus, memoryMb: capacity.memoryMb, ...(capacity.diskFreeMb === undefined ? {} : { diskFreeMb: capacity.diskFreeMb }) },
        tasks: worker.tasks().map(toReport),
        ...(clusterIds.id === undefined ? {} : { clusterId: clusterIds.id }),
        ...(worker.unavailable === undefined ? {} : { unavailable: worker.unavailable.slice(0, 1024) }),
        ...(refusedAsForeign ? { specs: Object.fromEntries(worker.state.assignments().map((a) => [a.taskId, a.spec])) } : {}),
      };
    },
    onAssign: (body: AssignBody) => worker.assign({ cmdId: body.cmdId, taskId: body.task.taskId, service: body.task.service, slot: body.task.slot, generation: body.task.generation, spec: body.task.spec }),
    // The manager routes the REPL's send/ask to this worker's actors; checked here as at the manager.
    onAdmin: (body) => adminCall(worker, { type: body.op, path: body.path, message: body.message, timeoutMs: body.timeoutMs }),
    onLogs: (frame, send) => logs.handle(frame, send),
    onStop: async (body: StopBody) => {
      if (planted.workerIgnoresGenerations) return plantedStopSlot(worker, body);
      const task = worker.task(body.taskId);
      if (!task || task.generation !== body.generation || task.state === 'stopped') return { applied: false };
      await worker.stopTask(body.taskId, body.cmdId);
      return { applied: true };
    },
  });
  const log = options.logger ?? consola.withTag('goat:worker');
  link.on('welcome', (w) => {
    refusedAsForeign = false;
    if (w.clusterId !== undefined && w.clusterId !== clusterIds.id) {
      if (clusterIds.id !== undefined) log.info(`this node now belongs to cluster ${w.clusterId} (adopted; it was in ${clusterIds.id})`);
      void clusterIds.set(w.clusterId).catch((err: unknown) => log.warn(`cannot remember the cluster id: ${err instanceof Error ? err.message : String(err)}`));
    }
  });
  link.on('remoteError', (e) => {
    if (e.code !== 'GOAT_ERR_FOREIGN_CLUSTER') return;
    // Said once per refusal spell; its tasks keep running meanwhile, and it keeps trying (an adoption lets it in).
    if (!refusedAsForeign) log.warn(`refused by the manager: ${e.message}; this node keeps its tasks running and retries`);
    refusedAsForeign = true;
  });
  // The worker's tree goes to the manager: whole on every link, then its changes, at most 4 a second.
  const publisher = new TreePublisher({ tree: () => worker.tree(), send: (type, body) => link.sendTree(type, body), clock: options.clock ?? systemClock });
  const offConnected = link.on('connected', () => publisher.snapshot());
  link.on('disconnected', () => logs.closeAll());
  const off = worker.subscribe((e) => {
    if (e.type === 'task') link.report([toReport(e.task)]);
    if (e.type === 'supervision') publisher.changed();
  });
  // Changes between the hello being built and the welcome were not sent (no link yet): say where every task stands
  // now (found by the simulation, seed 60 of the CI budget: a task fenced just before its worker re-linked stayed
  // `running` in the manager's eyes, its slot empty for good).
  link.on('connected', () => void link.report(worker.tasks().map(toReport)));
  // The link lives in the worker's tree as its `link` actor, which starts it.
  await worker.supervise(linkChild(link));
  // Self-fencing: cut off from every manager for a task's `disconnect.stopAfterMs`, stop that task here.
  const stopFencing = startFencing({
    tasks: () => worker.state.assignments().map((a) => ({ taskId: a.taskId, state: worker.task(a.taskId)?.state ?? 'assigned', spec: a.spec })),
    disconnectedSince: () => link.disconnectedSince,
    onDisconnected: (listener) => link.on('disconnected', () => listener()),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    stop: (taskId) => worker.stopTask(taskId),
    onFenced: (taskId, err) => (err === undefined
      ? log.info(`task ${taskId} stopped: cut off from every manager for its disconnect.stopAfterMs`)
      : log.warn(`task ${taskId}: self-fencing stop failed: ${err instanceof Error ? err.message : String(err)}`)),
  });
  return {
    worker,
    link,
    logs,
    stop: async () => {
      off();
      offConnected();
      publisher.stop();
      logs.closeAll();
      stopFencing();
      if (refresh !== null) clock.clearTimeout(refresh);
      refresh = null;
      link.stop();
      await worker.shutdown();
    },
  };
}

/** Planted bug (lib/sim/planted.ts): a stop addressed to one copy stops every copy of its slot here. */
async function plantedStopSlot(worker: Worker, body: StopBody): Promise<{ applied: boolean }> {
  const target = worker.task(body.taskId);
  if (!target) return { applied: false };
  const copies = worker.tasks().filter((t) => t.service === target.service && t.slot === target.slot && t.state !== 'stopped');
  for (const t of copies) await worker.stopTask(t.id, t.id === body.taskId ? body.cmdId : undefined);
  return { applied: copies.length > 0 };
}

/** A task as the link reports it. */
export function toReport(t: TaskView): TaskReport {
  return {
    taskId: t.id, service: t.service, slot: t.slot, generation: t.generation, state: t.state, restarts: t.restarts,
    lastExit: t.lastExit ? { code: t.lastExit.code, signal: t.lastExit.signal, oomKilled: t.lastExit.oomKilled, message: clip(t.lastExit.message), finishedAt: t.lastExit.finishedAt } : null,
    ...(t.ports.length > 0 ? { ports: t.ports } : {}),
    ...(t.healthy === undefined ? {} : { healthy: t.healthy }),
    // Why it is not running, so the manager's `ps` can say it (issue 11).
    error: t.error ? { ...(t.error.code ? { code: t.error.code.slice(0, 128) } : {}), message: clip(t.error.message) } : null,
    failure: t.failure ? { kind: t.failure.kind, message: clip(t.failure.message), ...(t.failure.code ? { code: t.failure.code.slice(0, 128) } : {}) }
      : t.error && t.state === 'failed' ? { kind: 'app', message: clip(t.error.message), ...(t.error.code ? { code: t.error.code.slice(0, 128) } : {}) } : null,
  };
}
