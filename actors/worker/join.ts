/**
 * A worker that joins a manager: the {@link Worker} plus its link. The link
 * says hello with the node's full actual state on every (re)connect, applies
 * the manager's `assign` and `stop` commands (each (task, generation) at most
 * once) and reports every task change.
 */
import { LinkClient, type AssignBody, type LinkClientOptions, type StopBody, type TaskReport } from '../../transport/index.js';
import { planted } from '../../lib/sim/planted.js';
import { consola } from 'consola';
import { EpochFile } from '../../lib/ha/epoch-file.js';
import { startFencing } from './fence.js';
import { Worker, type TaskView, type WorkerOptions } from './worker.js';

/** How a worker joins. */
export interface JoinOptions extends WorkerOptions {
  /** Manager URL(s): `ws://host:port` or `http://host:port`. */
  join: string | string[];
  /** The cluster token. */
  token: string;
  /** Labels the scheduler's constraints can match. */
  labels?: Record<string, string>;
  /** Reconnect backoff. @default { initialMs: 500, maxMs: 30000 } */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Opens the link's WebSocket (the deterministic simulation's network). @default a real one */
  linkConnect?: LinkClientOptions['connect'];
}

/** A joined worker. */
export interface JoinedWorker {
  worker: Worker;
  link: LinkClient;
  /** Leaves: closes the link and stops the worker's actors; its tasks keep running. */
  stop(): Promise<void>;
}

/** Starts a worker and links it to the manager. */
export async function joinCluster(options: JoinOptions): Promise<JoinedWorker> {
  const worker = await Worker.start(options);
  let usage = { tasks: 0, memoryMb: 0, cpuSeconds: 0 };
  const refresh = setInterval(() => void worker.usage().then((u) => (usage = u), () => undefined), 5_000);
  refresh.unref();
  const urls = (Array.isArray(options.join) ? options.join : [options.join]).map((u) => u.replace(/^http/, 'ws'));
  // Several managers (HA): the highest leader epoch seen is kept on disk; older ones are refused.
  const epochs = await EpochFile.load(options.dataDir);
  const link = new LinkClient({
    urls,
    minEpoch: () => epochs.epoch,
    onEpoch: (epoch) => (epoch > epochs.epoch ? epochs.raise(epoch) : undefined),
    token: options.token,
    backoff: { initialMs: options.backoff?.initialMs ?? 500, maxMs: options.backoff?.maxMs ?? 30_000 },
    usage: () => usage,
    ...(options.linkConnect ? { connect: options.linkConnect } : {}),
    hello: async () => {
      const capacity = await worker.capacity();
      return {
        nodeId: worker.nodeId, name: worker.state.name, runtime: worker.runtimeChoice.kind, labels: options.labels ?? {},
        capacity: { cpus: capacity.cpus, memoryMb: capacity.memoryMb, ...(capacity.diskFreeMb === undefined ? {} : { diskFreeMb: capacity.diskFreeMb }) },
        tasks: worker.tasks().map(toReport),
      };
    },
    onAssign: (body: AssignBody) => worker.assign({ cmdId: body.cmdId, taskId: body.task.taskId, service: body.task.service, slot: body.task.slot, generation: body.task.generation, spec: body.task.spec }),
    onStop: async (body: StopBody) => {
      if (planted.workerIgnoresGenerations) return plantedStopSlot(worker, body);
      const task = worker.task(body.taskId);
      if (!task || task.generation !== body.generation || task.state === 'stopped') return { applied: false };
      await worker.stopTask(body.taskId, body.cmdId);
      return { applied: true };
    },
  });
  const off = worker.subscribe((e) => {
    if (e.type === 'task') link.report([toReport(e.task)]);
  });
  link.start();
  // Self-fencing: cut off from every manager for a task's `disconnect.stopAfterMs`, stop that task here.
  const log = options.logger ?? consola.withTag('goat:worker');
  const stopFencing = startFencing({
    tasks: () => worker.state.assignments().map((a) => ({ taskId: a.taskId, state: worker.task(a.taskId)?.state ?? 'assigned', spec: a.spec })),
    disconnectedSince: () => link.disconnectedSince,
    stop: (taskId) => worker.stopTask(taskId),
    onFenced: (taskId, err) => (err === undefined
      ? log.info(`task ${taskId} stopped: cut off from every manager for its disconnect.stopAfterMs`)
      : log.warn(`task ${taskId}: self-fencing stop failed: ${err instanceof Error ? err.message : String(err)}`)),
  });
  return {
    worker,
    link,
    stop: async () => {
      off();
      stopFencing();
      clearInterval(refresh);
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
    lastExit: t.lastExit ? { code: t.lastExit.code, signal: t.lastExit.signal, oomKilled: t.lastExit.oomKilled, message: t.lastExit.message, finishedAt: t.lastExit.finishedAt } : null,
    failure: t.failure ? { kind: t.failure.kind, message: t.failure.message.slice(0, 4096), ...(t.failure.code ? { code: t.failure.code } : {}) }
      : t.error && t.state === 'failed' ? { kind: 'app', message: t.error.message.slice(0, 4096), ...(t.error.code ? { code: t.error.code } : {}) } : null,
  };
}
