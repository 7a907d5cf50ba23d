/**
 * The Docker runtime: one container per task instance, named
 * `goat-<taskId>-g<generation>` and labelled with its identity, so a
 * restarted worker (or a restarted daemon) finds its containers by labels
 * alone. It never pulls: a missing image is a resource failure.
 */
import Dockerode from 'dockerode';
import { setMaxListeners } from 'node:events';
import { GoatError } from '../errors.js';
import { checkCpuMemory, checkDisk, checkPorts } from './checks.js';
import { diskSpace } from './disk.js';
import { engineMessage, isConflict, isNotFound, startError, statusOf, toGoatError } from './docker-errors.js';
import { DockerLogSplitter, LOG_ROTATION_DEFAULTS, dockerLogLines, tailByStream, type LogLine, type LogReadOptions, type LogReader, type LogRotation } from '../logs/index.js';
import { containerOptions, imageOf, publishedPorts, testRunLabels } from './docker-spec.js';
import { OomEvents } from './docker-oom.js';
import { containerExit, containerStatus, dockerTime, mayBeOomKill } from './docker-status.js';
import { exitInfo } from './exit-info.js';
import { HealthMonitor } from './health-monitor.js';
import { LABELS, checkInstanceId, checkTask, containerName, identityFromLabels, instanceKey, noSuchTask } from './identity.js';
import { KeyedLock } from './keyed-lock.js';
import { settlesWithin, sleep } from './timing.js';
import type {
  Capacity,
  ExitInfo,
  ListFilter,
  LogTail,
  PrepareResult,
  RunningTask,
  Runtime,
  RuntimeHealth,
  RuntimeTask,
  TaskStats,
  TaskStatus,
} from './types.js';
import type { ExecResult } from './types.js';
import { dockerExec } from './exec.js';

const MIB = 1024 * 1024;

/** `Dockerode.ping` as it really is: it takes an abort signal. */
interface PingWithSignal {
  ping(options: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** How long a ping may take before the engine counts as down (ms): a local engine answers within milliseconds. */
export const DOCKER_PING_TIMEOUT_MS = 1_000;

/** Options of a {@link DockerRuntime}. */
export interface DockerRuntimeOptions {
  /** A ready dockerode client. @default new Dockerode(dockerOptions) */
  docker?: Dockerode;
  /** How to reach the engine when `docker` is not given. @default the local socket /var/run/docker.sock */
  dockerOptions?: Dockerode.DockerOptions;
  /** The cluster `list()` shows by default. @default every Goat container */
  cluster?: string;
  /** The node `list()` shows by default. @default every node's */
  nodeId?: string;
  /** How long a ping may take before the engine counts as down, in ms. @default DOCKER_PING_TIMEOUT_MS */
  pingTimeoutMs?: number;
  /** Time between pings while someone listens to {@link DockerRuntime.onHealth}, in ms. @default 2000 */
  healthIntervalMs?: number;
  /** Output lines kept in {@link ExitInfo.logTail}. @default 50 */
  logLines?: number;
  /** Size-based rotation of each container's log (json-file `max-size`, `max-file`). @default 10 MiB × 3 files */
  logRotation?: Partial<LogRotation>;
}

/** Runs tasks as Docker containers through dockerode. */
export class DockerRuntime implements Runtime {
  /** Always `docker`. */
  readonly kind = 'docker' as const;
  private readonly docker: Dockerode;
  private readonly options: DockerRuntimeOptions;
  private readonly lock = new KeyedLock();
  /**
   * Instances this runtime stopped or removed (key → when), so their exits
   * read `stopped`; kept a minute after removal. In memory only: a new
   * runtime instance reports an earlier stop as a plain exit.
   */
  private readonly stopRequested = new Map<string, number>();
  private readonly closing = new AbortController();
  private readonly monitor: HealthMonitor;
  private readonly oom: OomEvents;

  /** A runtime talking to the engine described by `options` (nothing is contacted until the first call). */
  constructor(options: DockerRuntimeOptions = {}) {
    this.options = options;
    this.docker = options.docker ?? new Dockerode(options.dockerOptions);
    this.oom = new OomEvents(this.docker);
    setMaxListeners(0, this.closing.signal); // one listener per pending wait(): as many as tasks
    this.monitor = new HealthMonitor(
      { check: () => this.health(), watch: (onEnd) => this.watchEvents(onEnd) },
      { intervalMs: options.healthIntervalMs ?? 2000 },
    );
  }

  /** {@inheritDoc Runtime.prepare} */
  async prepare(task: RuntimeTask): Promise<PrepareResult> {
    checkTask(task);
    const image = imageOf(task);
    const existing = await this.inspectContainer(containerName(task.taskId, task.generation));
    if (existing) {
      this.checkOwned(existing, task);
      return { exists: true, diskNeededMb: 0 };
    }
    const imageInfo = await this.inspectImage(image);
    if (!imageInfo) {
      throw new GoatError('GOAT_ERR_RESOURCE', `image ${image} is not present on this node (goat never pulls)`, {
        details: { resource: 'image', image },
      });
    }
    const capacity = await this.capacity();
    checkCpuMemory(task.spec.resources, capacity);
    const imageMb = Math.ceil(imageInfo.Size / MIB);
    const diskNeededMb = imageMb + (task.spec.resources?.diskMb ?? 0);
    checkDisk(diskNeededMb, capacity.diskFreeMb, capacity.diskPath, `task ${task.taskId} (image ${image}: ${imageMb} MiB, diskMb: ${task.spec.resources?.diskMb ?? 0})`);
    await checkPorts(task.spec.ports ?? []);
    return { exists: false, diskNeededMb, ...(capacity.diskFreeMb === undefined ? {} : { diskFreeMb: capacity.diskFreeMb }) };
  }

  /** {@inheritDoc Runtime.start} */
  async start(task: RuntimeTask): Promise<RunningTask> {
    checkTask(task);
    const options = containerOptions(task, testRunLabels(process.env), { ...LOG_ROTATION_DEFAULTS, ...this.options.logRotation });
    const name = containerName(task.taskId, task.generation);
    const key = instanceKey(task.taskId, task.generation);
    const details = { taskId: task.taskId, generation: task.generation, container: name };
    return this.lock.run(key, async () => {
      await this.oom.ensureOpen();
      let info = await this.inspectContainer(name);
      let created = false;
      if (!info) {
        try {
          await this.docker.createContainer(options);
          created = true;
        } catch (err) {
          if (!isConflict(err)) throw startError(err, 'create', { ...details, image: options.Image });
          // Someone created it meanwhile (another runtime, a retried command): adopt theirs.
        }
        info = await this.inspectCreated(name);
        if (!info) throw new GoatError('GOAT_ERR_RUNTIME', `container ${name} vanished right after it was created`, { details });
      }
      this.checkOwned(info, task);
      if (info.State.Running) return this.handle(info, task, !created);
      this.stopRequested.delete(key);
      this.oom.forget(info.Id);
      try {
        await this.docker.getContainer(info.Id).start();
      } catch (err) {
        if (statusOf(err) !== 304) {
          const error = startError(err, 'start', details);
          if (created) await this.docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
          throw error;
        }
      }
      const started = await this.inspectContainer(info.Id);
      if (!started) throw new GoatError('GOAT_ERR_RUNTIME', `container ${name} vanished right after it was started`, { details });
      return this.handle(started, task, false);
    });
  }

  /** {@inheritDoc Runtime.wait} */
  async wait(taskId: string, generation: number): Promise<ExitInfo> {
    checkInstanceId(taskId, generation);
    const name = containerName(taskId, generation);
    await this.oom.ensureOpen();
    let result: { StatusCode?: number };
    try {
      result = await this.docker.getContainer(name).wait({ condition: 'not-running', abortSignal: this.closing.signal });
    } catch (err) {
      if (isNotFound(err)) throw noSuchTask(taskId, generation);
      throw this.closed() ?? toGoatError(err, 'wait', { taskId, generation });
    }
    return this.exitOf(name, instanceKey(taskId, generation), result.StatusCode ?? null, true);
  }

  /** {@inheritDoc Runtime.inspect} */
  async inspect(taskId: string, generation: number): Promise<TaskStatus | undefined> {
    checkInstanceId(taskId, generation);
    const info = await this.inspectContainer(containerName(taskId, generation));
    return info ? this.statusOf(info) : undefined;
  }

  /** {@inheritDoc Runtime.stop} */
  async stop(taskId: string, generation: number, timeoutMs: number): Promise<ExitInfo | undefined> {
    checkInstanceId(taskId, generation);
    const name = containerName(taskId, generation);
    const key = instanceKey(taskId, generation);
    return this.lock.run(key, async () => {
      const info = await this.inspectContainer(name);
      if (!info) return undefined;
      if (!info.State.Running) return this.exitOf(name, key, info.State.ExitCode, false);
      this.stopRequested.set(key, Date.now());
      const container = this.docker.getContainer(info.Id);
      const exited = container.wait({ condition: 'not-running', abortSignal: this.closing.signal });
      exited.catch(() => undefined); // awaited below; this only silences an early rejection
      await this.kill(container, (info.Config as { StopSignal?: string }).StopSignal || 'SIGTERM');
      if (!(await settlesWithin(exited, timeoutMs))) await this.kill(container, 'SIGKILL');
      try {
        await exited;
      } catch (err) {
        if (!isNotFound(err)) throw this.closed() ?? toGoatError(err, 'stop', { taskId, generation });
      }
      return this.exitOf(name, key, null, false);
    });
  }

  /** {@inheritDoc Runtime.remove} */
  async remove(taskId: string, generation: number): Promise<void> {
    checkInstanceId(taskId, generation);
    const key = instanceKey(taskId, generation);
    await this.lock.run(key, async () => {
      const at = Date.now();
      this.stopRequested.set(key, at);
      setTimeout(() => {
        if (this.stopRequested.get(key) === at) this.stopRequested.delete(key);
      }, 60_000).unref();
      try {
        await this.docker.getContainer(containerName(taskId, generation)).remove({ force: true });
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err) && /already in progress/i.test(engineMessage(err))) return;
        throw toGoatError(err, 'remove', { taskId, generation });
      }
    });
  }

  /** {@inheritDoc Runtime.list} */
  async list(filter: ListFilter = {}): Promise<TaskStatus[]> {
    const cluster = filter.cluster ?? this.options.cluster;
    const nodeId = filter.nodeId ?? this.options.nodeId;
    const label: string[] = [LABELS.task];
    if (cluster !== undefined) label.push(`${LABELS.cluster}=${cluster}`);
    if (nodeId !== undefined) label.push(`${LABELS.node}=${nodeId}`);
    let containers: Dockerode.ContainerInfo[];
    try {
      containers = await this.docker.listContainers({ all: true, filters: { label } });
    } catch (err) {
      throw toGoatError(err, 'list');
    }
    const statuses = await Promise.all(
      containers.map(async (container) => {
        const info = await this.inspectContainer(container.Id);
        return info ? this.statusOf(info) : undefined;
      }),
    );
    return statuses.filter((status): status is TaskStatus => status !== undefined);
  }

  /** {@inheritDoc Runtime.logs} */
  async logs(taskId: string, generation: number, lines = 50): Promise<LogTail | undefined> {
    checkInstanceId(taskId, generation);
    return this.tail(containerName(taskId, generation), lines);
  }

  /** {@inheritDoc Runtime.openLogs} */
  async openLogs(taskId: string, generation: number, options: LogReadOptions): Promise<LogReader | undefined> {
    checkInstanceId(taskId, generation);
    const container = this.docker.getContainer(containerName(taskId, generation));
    // Only new lines, as they come: their arrival is their time, and the engine need not format one per line
    // (what `docker logs -f` asks for). Old lines (a tail, --since) keep the engine's times.
    const stamped = !(options.follow && options.tail === 0 && options.since === undefined);
    const query = {
      stdout: true, stderr: true, timestamps: stamped,
      ...(options.tail === undefined ? {} : { tail: options.tail }),
      ...(options.since === undefined ? {} : { since: Math.floor(options.since / 1000) }),
    };
    let source: AsyncIterable<Buffer>;
    let destroy = (): void => undefined;
    try {
      if (options.follow) {
        const stream = (await container.logs({ ...query, follow: true })) as unknown as NodeJS.ReadableStream & { destroy(): void };
        source = stream as AsyncIterable<Buffer>;
        destroy = () => stream.destroy();
      } else {
        const buffer = await container.logs({ ...query, follow: false });
        source = (async function* () {
          yield buffer;
        })();
      }
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return undefined;
      throw toGoatError(err, 'logs', { container: containerName(taskId, generation) });
    }
    return dockerLogReader(source, destroy, options.since, stamped);
  }

  /** {@inheritDoc Runtime.exec} */
  async exec(taskId: string, generation: number, argv: string[], timeoutMs: number): Promise<ExecResult> {
    checkInstanceId(taskId, generation);
    return dockerExec(this.docker.getContainer(containerName(taskId, generation)), argv, timeoutMs);
  }

  /** {@inheritDoc Runtime.stats} */
  async stats(taskId: string, generation: number): Promise<TaskStats | undefined> {
    checkInstanceId(taskId, generation);
    const info = await this.inspectContainer(containerName(taskId, generation));
    if (!info?.State.Running) return undefined;
    let stats: Dockerode.ContainerStats;
    try {
      stats = await this.docker.getContainer(info.Id).stats({ stream: false, 'one-shot': true });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toGoatError(err, 'stats', { taskId, generation });
    }
    const memory = stats.memory_stats;
    const inner = (memory.stats ?? {}) as Record<string, number | undefined>;
    const cache = inner['total_inactive_file'] ?? inner['inactive_file'] ?? 0;
    return {
      memoryMb: Math.max(0, (memory.usage ?? 0) - cache) / MIB,
      cpuSeconds: (stats.cpu_stats.cpu_usage.total_usage ?? 0) / 1e9,
    };
  }

  /** {@inheritDoc Runtime.capacity} */
  async capacity(): Promise<Capacity> {
    let info: { NCPU: number; MemTotal: number; DockerRootDir: string };
    try {
      info = await this.docker.info();
    } catch (err) {
      throw toGoatError(err, 'info');
    }
    const disk = await diskSpace(info.DockerRootDir);
    return {
      cpus: info.NCPU,
      memoryMb: Math.floor(info.MemTotal / MIB),
      diskPath: info.DockerRootDir,
      ...(disk === undefined ? {} : { diskFreeMb: disk.freeMb, diskTotalMb: disk.totalMb }),
    };
  }

  /** {@inheritDoc Runtime.health} */
  async health(): Promise<RuntimeHealth> {
    // docker-modem 5 may hold socketPath as a function: name only a string.
    const modem = this.docker.modem as unknown as { socketPath?: unknown; host?: unknown };
    const where = typeof modem.socketPath === 'string' ? modem.socketPath : typeof modem.host === 'string' ? modem.host : '/var/run/docker.sock';
    try {
      // dockerode accepts an abortSignal here; its typings do not say so.
      await (this.docker as unknown as PingWithSignal).ping({ abortSignal: AbortSignal.timeout(this.options.pingTimeoutMs ?? DOCKER_PING_TIMEOUT_MS) });
      return { ok: true, detail: `docker engine at ${where} answers`, at: Date.now() };
    } catch (err) {
      const reason = (err as { name?: string }).name === 'AbortError' || (err as { name?: string }).name === 'TimeoutError' ? 'no answer in time' : engineMessage(err);
      return { ok: false, detail: `docker engine at ${where} does not answer: ${reason}`, at: Date.now() };
    }
  }

  /** {@inheritDoc Runtime.onHealth} */
  onHealth(listener: (health: RuntimeHealth) => void): () => void {
    return this.monitor.subscribe(listener);
  }

  /** {@inheritDoc Runtime.close} */
  async close(): Promise<void> {
    this.monitor.close();
    this.oom.close();
    this.closing.abort();
  }

  /** Opens the engine's event stream for our containers; `onEnd` runs when it ends (engine gone). */
  private async watchEvents(onEnd: () => void): Promise<() => void> {
    const stream = (await this.docker.getEvents({
      filters: { type: ['container'], label: [LABELS.task] },
    })) as NodeJS.ReadableStream & { destroy(): void };
    stream.on('data', () => undefined); // only the end matters here
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onEnd);
    return () => stream.destroy();
  }

  private async inspectContainer(nameOrId: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(nameOrId).inspect();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toGoatError(err, 'inspect', { container: nameOrId });
    }
  }

  /**
   * Inspects a container that was just created. Docker reserves the name
   * before the container can be inspected, so the loser of a creation race
   * may see a 404 for a moment: retry briefly.
   */
  private async inspectCreated(name: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
    for (let attempt = 0; ; attempt++) {
      const info = await this.inspectContainer(name);
      if (info || attempt >= 40) return info;
      await sleep(50);
    }
  }

  private async inspectImage(image: string): Promise<Dockerode.ImageInspectInfo | undefined> {
    try {
      return await this.docker.getImage(image).inspect();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toGoatError(err, 'image inspect', { image });
    }
  }

  /** Throws unless the container's labels say it is this task instance of this cluster. */
  private checkOwned(info: Dockerode.ContainerInspectInfo, task: RuntimeTask): void {
    const owner = identityFromLabels(info.Config?.Labels);
    if (!owner || owner.cluster !== task.cluster || owner.taskId !== task.taskId || owner.generation !== task.generation) {
      throw new GoatError('GOAT_ERR_RUNTIME', `container name ${info.Name} is taken by a container that is not this task instance`, {
        details: { taskId: task.taskId, generation: task.generation, container: info.Id, labels: info.Config?.Labels ?? {} },
      });
    }
  }

  private handle(info: Dockerode.ContainerInspectInfo, task: RuntimeTask, adopted: boolean): RunningTask {
    return {
      taskId: task.taskId,
      generation: task.generation,
      runtimeId: info.Id,
      startedAt: dockerTime(info.State.StartedAt) ?? Date.now(),
      adopted,
      ports: publishedPorts(info),
    };
  }

  private async statusOf(info: Dockerode.ContainerInspectInfo): Promise<TaskStatus | undefined> {
    const identity = identityFromLabels(info.Config?.Labels);
    if (!identity) return undefined;
    const stopRequested = this.stopRequested.has(instanceKey(identity.taskId, identity.generation));
    const logTail = info.State.Running ? [] : await this.mergedTail(info.Id);
    return containerStatus(info, { stopRequested, oomEvent: this.oom.seen(info.Id), logTail });
  }

  /**
   * How the (not running) container ended; `fallbackCode` serves when it is
   * already gone. With `awaitOom`, a SIGKILL under a memory limit waits up to
   * a second for an `oom` event the engine may still deliver.
   */
  private async exitOf(name: string, key: string, fallbackCode: number | null, awaitOom: boolean): Promise<ExitInfo> {
    const stopRequested = this.stopRequested.has(key);
    const info = await this.inspectContainer(name);
    if (!info) return exitInfo({ code: fallbackCode, signal: null, stopRequested, finishedAt: Date.now() });
    const oomEvent = awaitOom && mayBeOomKill(info, stopRequested) ? await this.oom.waitFor(info.Id, 1000) : this.oom.seen(info.Id);
    const found = containerExit(info, { stopRequested, oomEvent, logTail: await this.mergedTail(info.Id) });
    return found ?? exitInfo({ code: fallbackCode, signal: null, stopRequested, finishedAt: Date.now() });
  }

  /** The last lines of a container's output, as split by the one Docker log splitter; undefined when it is gone. */
  private async lines(nameOrId: string, lines: number): Promise<LogLine[] | undefined> {
    try {
      const buffer = await this.docker.getContainer(nameOrId).logs({ stdout: true, stderr: true, timestamps: true, tail: lines, follow: false });
      return dockerLogLines(buffer);
    } catch (err) {
      // 409: the container is being removed; its logs are gone with it.
      if (isNotFound(err) || isConflict(err)) return undefined;
      throw toGoatError(err, 'logs', { container: nameOrId });
    }
  }

  private async tail(nameOrId: string, lines: number): Promise<LogTail | undefined> {
    const all = await this.lines(nameOrId, lines);
    return all ? tailByStream(all, lines) : undefined;
  }

  /** Both streams' last lines in the order they were written, for {@link ExitInfo.logTail}. */
  private async mergedTail(nameOrId: string): Promise<string[]> {
    const lines = this.options.logLines ?? 50;
    return ((await this.lines(nameOrId, lines)) ?? []).slice(-lines).map((l) => l.text);
  }

  private async kill(container: Dockerode.Container, signal: string): Promise<void> {
    try {
      await container.kill({ signal });
    } catch (err) {
      // 404: gone; 409: not running any more. Both mean the signal has nothing left to do.
      if (!isNotFound(err) && !isConflict(err)) throw toGoatError(err, 'kill', { signal });
    }
  }

  /** The error for a call cut short by {@link close}, if that is what happened. */
  private closed(): GoatError | undefined {
    if (!this.closing.signal.aborted) return undefined;
    return new GoatError('GOAT_ERR_RUNTIME', 'the runtime was closed while waiting', { details: { closed: true } });
  }
}


/** A Docker log byte stream as a {@link LogReader}: lines in batches, `since` applied to the millisecond. */
function dockerLogReader(source: AsyncIterable<Buffer>, destroy: () => void, since: number | undefined, stamped: boolean): LogReader {
  const splitter = new DockerLogSplitter(stamped);
  const keep = (lines: LogLine[]): LogLine[] => (since === undefined ? lines : lines.filter((l) => l.at >= since));
  let closed = false;
  return {
    close() {
      closed = true;
      destroy();
    },
    async *[Symbol.asyncIterator]() {
      try {
        for await (const chunk of source) {
          if (closed) return;
          const lines = keep(splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
          if (lines.length > 0) yield lines;
        }
        const rest = keep(splitter.end());
        if (rest.length > 0 && !closed) yield rest;
      } catch (err) {
        if (!closed) throw toGoatError(err, 'logs', {});
      } finally {
        destroy();
      }
    },
  };
}
