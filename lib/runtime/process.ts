/**
 * The process runtime: each task instance is a local process group (its
 * command, started detached with `PORT` set), its output goes to files in
 * `<dataDir>/tasks/<taskId>-g<generation>/`, and its pid and /proc start time
 * are recorded there. A new runtime on the same data dir adopts the live
 * processes from those records instead of starting them again. CPU and memory
 * are checked against the machine but not enforced.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { GoatError } from '../errors.js';
import { checkCpuMemory, checkDisk, checkPorts } from './checks.js';
import { diskSpace } from './disk.js';
import { exitInfo } from './exit-info.js';
import { checkInstanceId, checkTask, instanceKey, noSuchTask } from './identity.js';
import { KeyedLock } from './keyed-lock.js';
import { tailFile } from './log-tail.js';
import { followLogFiles, LogKeeper, LOG_ROTATION_DEFAULTS, type LogReadOptions, type LogReader, type LogRotation } from '../logs/index.js';
import { CLOCK_TICKS, groupMembers, isAlive, readProcStatSync, residentKb, signalGroup } from './proc.js';
import { commandOf, hostPorts, resolveExecutable, taskEnv } from './process-env.js';
import type { ProcessRecord } from './process-record.js';
import { TaskFiles, readRecord, updateRecord, writeRecord } from './process-record.js';
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
import { localExec } from './exec.js';

/** Options of a {@link ProcessRuntime}. */
export interface ProcessRuntimeOptions {
  /** Where task folders live (`<dataDir>/tasks/…`); one worker per data dir. */
  dataDir: string;
  /** The cluster `list()` shows by default. @default every record's */
  cluster?: string;
  /** The node `list()` shows by default. @default every record's */
  nodeId?: string;
  /** Working directory of task processes. @default process.cwd() */
  cwd?: string;
  /** The environment task processes start from (`GOAT_*` removed). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** How often `wait` checks an adopted (not child) process, in ms. @default 200 */
  pollMs?: number;
  /** Output lines kept in {@link ExitInfo.logTail}. @default 50 */
  logLines?: number;
  /** Size-based rotation of each task's `stdout.log` and `stderr.log`. @default 10 MiB × 3 files */
  logRotation?: Partial<LogRotation>;
  /** How often log files are checkpointed (line times) and checked for rotation, in ms. @default 250 */
  logCheckMs?: number;
}

/** A process this runtime started itself, whose exit it hears directly. */
interface Child {
  pid: number;
  process: ChildProcess;
  exited: Promise<ExitInfo>;
  /** Callers awaiting `exited`; while there are any, the child keeps the event loop alive. */
  waiters: number;
}

/** Runs tasks as local process groups. */
export class ProcessRuntime implements Runtime {
  /** Always `process`. */
  readonly kind = 'process' as const;
  private readonly options: ProcessRuntimeOptions;
  private readonly files: TaskFiles;
  private readonly lock = new KeyedLock();
  private readonly children = new Map<string, Child>();
  private readonly closing = new AbortController();
  private readonly rotation: LogRotation;
  /** Rotates and checkpoints the task log files while this runtime is open. */
  private readonly keeper: LogKeeper;

  /** A runtime keeping its state under `options.dataDir`. */
  constructor(options: ProcessRuntimeOptions) {
    this.options = options;
    this.files = new TaskFiles(options.dataDir);
    this.rotation = { ...LOG_ROTATION_DEFAULTS, ...options.logRotation };
    this.keeper = new LogKeeper(this.files.root, this.rotation, options.logCheckMs ?? 250);
    this.keeper.start();
  }

  private get cwd(): string {
    return this.options.cwd ?? process.cwd();
  }

  private get baseEnv(): NodeJS.ProcessEnv {
    return this.options.env ?? process.env;
  }

  /** {@inheritDoc Runtime.prepare} */
  async prepare(task: RuntimeTask): Promise<PrepareResult> {
    checkTask(task);
    const command = commandOf(task);
    const record = readRecord(this.files.record(task.taskId, task.generation));
    if (record) {
      checkOwned(record, task);
      return { exists: true, diskNeededMb: 0 };
    }
    const env = taskEnv(task.spec, this.baseEnv);
    const executable = await resolveExecutable(command[0] as string, this.cwd, env['PATH']);
    if (executable === undefined) {
      throw new GoatError('GOAT_ERR_RESOURCE', `executable ${command[0]} not found on this node`, {
        details: { resource: 'executable', executable: command[0] },
      });
    }
    const capacity = await this.capacity();
    checkCpuMemory(task.spec.resources, capacity);
    const diskNeededMb = task.spec.resources?.diskMb ?? 0;
    checkDisk(diskNeededMb, capacity.diskFreeMb, capacity.diskPath, `task ${task.taskId} (diskMb)`);
    await checkPorts(hostPorts(task.spec));
    return { exists: false, diskNeededMb, ...(capacity.diskFreeMb === undefined ? {} : { diskFreeMb: capacity.diskFreeMb }) };
  }

  /** {@inheritDoc Runtime.start} */
  async start(task: RuntimeTask): Promise<RunningTask> {
    checkTask(task);
    const command = commandOf(task);
    return this.lock.run(instanceKey(task.taskId, task.generation), async () => {
      const record = readRecord(this.files.record(task.taskId, task.generation));
      if (record) {
        checkOwned(record, task);
        if (await isAlive(record.pid, record.startTime)) return handle(record, true);
      }
      return this.spawnTask(task, command);
    });
  }

  /** {@inheritDoc Runtime.wait} */
  async wait(taskId: string, generation: number): Promise<ExitInfo> {
    checkInstanceId(taskId, generation);
    const record = readRecord(this.files.record(taskId, generation));
    if (!record) throw noSuchTask(taskId, generation);
    await this.untilDead(instanceKey(taskId, generation), record, true);
    return this.exitOf(record);
  }

  /** {@inheritDoc Runtime.inspect} */
  async inspect(taskId: string, generation: number): Promise<TaskStatus | undefined> {
    checkInstanceId(taskId, generation);
    const record = readRecord(this.files.record(taskId, generation));
    return record ? this.statusOf(record) : undefined;
  }

  /** {@inheritDoc Runtime.stop} */
  async stop(taskId: string, generation: number, timeoutMs: number): Promise<ExitInfo | undefined> {
    checkInstanceId(taskId, generation);
    const key = instanceKey(taskId, generation);
    return this.lock.run(key, async () => {
      const file = this.files.record(taskId, generation);
      const record = readRecord(file);
      if (!record) return undefined;
      if (await isAlive(record.pid, record.startTime)) {
        updateRecord(file, record.pid, { stopRequestedAt: Date.now() });
        await this.terminate(key, record, timeoutMs);
      }
      return this.exitOf(record);
    });
  }

  /** {@inheritDoc Runtime.remove} */
  async remove(taskId: string, generation: number): Promise<void> {
    checkInstanceId(taskId, generation);
    const key = instanceKey(taskId, generation);
    await this.lock.run(key, async () => {
      const file = this.files.record(taskId, generation);
      const record = readRecord(file);
      if (record && (await isAlive(record.pid, record.startTime))) {
        updateRecord(file, record.pid, { stopRequestedAt: Date.now() });
        await this.terminate(key, record, 0);
      }
      this.children.delete(key);
      // maxRetries: the exit of the process just killed can still write its record (a temp file, then a rename) while the folder goes (ENOTEMPTY).
      await rm(this.files.dir(taskId, generation), { recursive: true, force: true, maxRetries: 5 });
    });
  }

  /** {@inheritDoc Runtime.list} */
  async list(filter: ListFilter = {}): Promise<TaskStatus[]> {
    const cluster = filter.cluster ?? this.options.cluster;
    const nodeId = filter.nodeId ?? this.options.nodeId;
    const statuses: TaskStatus[] = [];
    for (const name of await this.files.list()) {
      let record: ProcessRecord | undefined;
      try {
        record = readRecord(this.files.recordIn(name));
      } catch {
        continue; // an unreadable record is not ours to adopt; inspect() reports it
      }
      if (!record) continue;
      if (cluster !== undefined && record.cluster !== cluster) continue;
      if (nodeId !== undefined && record.nodeId !== nodeId) continue;
      statuses.push(await this.statusOf(record));
    }
    return statuses;
  }

  /** {@inheritDoc Runtime.logs} */
  async logs(taskId: string, generation: number, lines = 50): Promise<LogTail | undefined> {
    checkInstanceId(taskId, generation);
    if (!readRecord(this.files.record(taskId, generation))) return undefined;
    return {
      stdout: await tailFile(this.files.stdout(taskId, generation), lines),
      stderr: await tailFile(this.files.stderr(taskId, generation), lines),
    };
  }

  /** {@inheritDoc Runtime.openLogs} */
  async openLogs(taskId: string, generation: number, options: LogReadOptions): Promise<LogReader | undefined> {
    checkInstanceId(taskId, generation);
    const file = this.files.record(taskId, generation);
    if (!readRecord(file)) return undefined;
    await this.keeper.pass(); // fresh checkpoints: the latest lines get their times
    const alive = async (): Promise<boolean> => {
      const record = readRecord(file);
      return record !== undefined && record.exit === undefined && (await isAlive(record.pid, record.startTime));
    };
    return followLogFiles({ stdout: this.files.stdout(taskId, generation), stderr: this.files.stderr(taskId, generation), maxFiles: this.rotation.maxFiles }, options, alive);
  }

  /** {@inheritDoc Runtime.exec} */
  async exec(taskId: string, generation: number, argv: string[], timeoutMs: number): Promise<ExecResult> {
    checkInstanceId(taskId, generation);
    return localExec(argv, timeoutMs, this.files.dir(taskId, generation), taskEnv({}, this.baseEnv));
  }

  /** {@inheritDoc Runtime.stats} */
  async stats(taskId: string, generation: number): Promise<TaskStats | undefined> {
    checkInstanceId(taskId, generation);
    const record = readRecord(this.files.record(taskId, generation));
    if (!record || !(await isAlive(record.pid, record.startTime))) return undefined;
    const members = await groupMembers(record.pid);
    const kb = await Promise.all(members.map((member) => residentKb(member.pid)));
    return {
      memoryMb: kb.reduce((sum, value) => sum + value, 0) / 1024,
      cpuSeconds: members.reduce((sum, member) => sum + member.cpuTicks, 0) / CLOCK_TICKS,
    };
  }

  /** {@inheritDoc Runtime.capacity} */
  async capacity(): Promise<Capacity> {
    await mkdir(this.options.dataDir, { recursive: true });
    const disk = await diskSpace(this.options.dataDir);
    return {
      cpus: cpus().length,
      memoryMb: Math.floor(totalmem() / (1024 * 1024)),
      diskPath: this.options.dataDir,
      ...(disk === undefined ? {} : { diskFreeMb: disk.freeMb, diskTotalMb: disk.totalMb }),
    };
  }

  /** {@inheritDoc Runtime.health} */
  async health(): Promise<RuntimeHealth> {
    return { ok: true, detail: 'local processes need no engine', at: Date.now() };
  }

  /** {@inheritDoc Runtime.onHealth} */
  onHealth(listener: (health: RuntimeHealth) => void): () => void {
    let subscribed = true;
    void this.health().then((health) => {
      if (subscribed) listener(health);
    });
    return () => {
      subscribed = false;
    };
  }

  /** {@inheritDoc Runtime.close} */
  async close(): Promise<void> {
    this.closing.abort();
    this.keeper.stop();
    // Waits still pending must not keep a stopping worker alive: its tasks run on, to be adopted.
    for (const child of this.children.values()) child.process.unref();
  }

  /** Starts a run of `task` and records it before anything else can happen. */
  private async spawnTask(task: RuntimeTask, command: string[]): Promise<RunningTask> {
    const { taskId, generation } = task;
    const key = instanceKey(taskId, generation);
    const file = this.files.record(taskId, generation);
    await mkdir(this.files.dir(taskId, generation), { recursive: true });
    const out = openSync(this.files.stdout(taskId, generation), 'a');
    const err = openSync(this.files.stderr(taskId, generation), 'a');
    let child;
    try {
      child = spawn(command[0] as string, command.slice(1), {
        cwd: this.cwd,
        env: taskEnv(task.spec, this.baseEnv),
        detached: true, // its own session and process group: pgid = pid, signalled as a whole
        stdio: ['ignore', out, err],
      });
    } finally {
      closeSync(out); // the child has its own copies now
      closeSync(err);
    }
    const failed = new Promise<never>((_, reject) => child.once('error', reject));
    failed.catch(() => undefined);
    const pid = child.pid;
    if (pid === undefined) {
      const error = await failed.catch((e: NodeJS.ErrnoException) => e);
      if (!readRecord(file)) await rm(this.files.dir(taskId, generation), { recursive: true, force: true });
      throw spawnError(error, command);
    }
    // Recorded synchronously, right after the fork: a worker that dies now still finds it.
    const record: ProcessRecord = {
      version: 1,
      taskId,
      generation,
      service: task.service,
      slot: task.slot,
      nodeId: task.nodeId,
      cluster: task.cluster,
      command,
      ports: hostPorts(task.spec),
      pid,
      startTime: readProcStatSync(pid)?.startTime ?? null,
      startedAt: Date.now(),
    };
    writeRecord(file, record);
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => resolve(this.childExited(record, code, signal)));
    });
    this.children.set(key, { pid, process: child, exited, waiters: 0 });
    child.unref(); // the worker may exit; the task keeps running and is adopted later
    return handle(record, false);
  }

  /** Records how a child ended and kills what is left of its process group. */
  private async childExited(record: ProcessRecord, code: number | null, signal: NodeJS.Signals | null): Promise<ExitInfo> {
    const file = this.files.record(record.taskId, record.generation);
    signalGroup(record.pid, 'SIGKILL'); // leftovers of the group, as when a container ends
    const exit = { code, signal, finishedAt: Date.now() };
    let updated: ProcessRecord | undefined;
    try {
      updated = updateRecord(file, record.pid, { exit });
    } catch {
      updated = undefined;
    }
    // No record any more: remove() deleted it, so this runtime ended the run.
    return this.exitFrom(updated?.pid === record.pid ? updated : { ...record, stopRequestedAt: exit.finishedAt, exit });
  }

  /** Resolves once the run in `record` is over: its exit event for a child, else by polling /proc. */
  private async untilDead(key: string, record: ProcessRecord, abortOnClose: boolean): Promise<void> {
    const child = this.children.get(key);
    if (child && child.pid === record.pid) {
      await childExit(child, this.closing.signal);
      return;
    }
    const pollMs = this.options.pollMs ?? 200;
    while (await isAlive(record.pid, record.startTime)) {
      if (this.closing.signal.aborted && abortOnClose) {
        throw new GoatError('GOAT_ERR_RUNTIME', 'the runtime was closed while waiting', { details: { closed: true } });
      }
      await sleep(pollMs);
    }
  }

  /** SIGTERM to the group, SIGKILL after `timeoutMs` (or once the leader is gone, for stragglers); resolves when the leader is dead. */
  private async terminate(key: string, record: ProcessRecord, timeoutMs: number): Promise<void> {
    const dead = this.untilDead(key, record, false);
    if (timeoutMs > 0) signalGroup(record.pid, 'SIGTERM');
    if (timeoutMs <= 0 || !(await settlesWithin(dead, timeoutMs))) signalGroup(record.pid, 'SIGKILL');
    await dead;
    signalGroup(record.pid, 'SIGKILL');
  }

  /** How the run in `record` ended (the run is over); records an unknown exit for an adopted process. */
  private async exitOf(record: ProcessRecord): Promise<ExitInfo> {
    const key = instanceKey(record.taskId, record.generation);
    const child = this.children.get(key);
    if (child && child.pid === record.pid) return childExit(child, this.closing.signal);
    const file = this.files.record(record.taskId, record.generation);
    let current = readRecord(file);
    if (current && current.pid === record.pid && !current.exit) {
      // Not our child: its exit status went to its real parent. Record that it is unknown.
      // (Its group is not signalled: the pid may belong to another process by now.)
      current = updateRecord(file, record.pid, { exit: { code: null, signal: null, finishedAt: Date.now() } });
    }
    if (!current || current.pid !== record.pid) {
      // Removed (or restarted) meanwhile: this run was ended by this runtime.
      return exitInfo({ code: null, signal: null, stopRequested: true, finishedAt: Date.now() });
    }
    return this.exitFrom(current);
  }

  private async exitFrom(record: ProcessRecord): Promise<ExitInfo> {
    const lines = this.options.logLines ?? 50;
    const stdout = await tailFile(this.files.stdout(record.taskId, record.generation), lines);
    const stderr = await tailFile(this.files.stderr(record.taskId, record.generation), lines);
    return exitInfo({
      code: record.exit?.code ?? null,
      signal: record.exit?.signal ?? null,
      stopRequested: record.stopRequestedAt !== undefined,
      finishedAt: record.exit?.finishedAt ?? Date.now(),
      logTail: [...stdout, ...stderr].slice(-lines),
    });
  }

  private async statusOf(record: ProcessRecord): Promise<TaskStatus> {
    const running = await isAlive(record.pid, record.startTime);
    const exit = running ? undefined : await this.exitOf(record);
    return {
      taskId: record.taskId,
      generation: record.generation,
      service: record.service,
      slot: record.slot,
      nodeId: record.nodeId,
      cluster: record.cluster,
      runtimeId: String(record.pid),
      running,
      state: running ? 'running' : 'exited',
      startedAt: record.startedAt,
      ...(exit === undefined ? {} : { exit }),
      ports: record.ports,
    };
  }
}

/**
 * The child's exit; while awaited, the child holds the event loop open (it is
 * unref'd otherwise). `close()` unrefs the children whose exits were awaited
 * then (the task actors' watches: the worker may exit, the tasks run on); a
 * wait that starts after it (a `stop` or `remove` called on the closed
 * runtime) is someone waiting for that exit, and holds the loop again.
 */
async function childExit(child: Child, closing: AbortSignal): Promise<ExitInfo> {
  if (child.waiters++ === 0 || closing.aborted) child.process.ref();
  try {
    return await child.exited;
  } finally {
    if (--child.waiters === 0) child.process.unref();
  }
}

/** The handle of a recorded run. */
function handle(record: ProcessRecord, adopted: boolean): RunningTask {
  return {
    taskId: record.taskId,
    generation: record.generation,
    runtimeId: String(record.pid),
    startedAt: record.startedAt,
    adopted,
    ports: record.ports,
  };
}

/** Throws unless the record belongs to the same cluster as `task`. */
function checkOwned(record: ProcessRecord, task: RuntimeTask): void {
  if (record.cluster !== task.cluster) {
    throw new GoatError('GOAT_ERR_RUNTIME', `task folder ${record.taskId}-g${record.generation} belongs to cluster ${record.cluster}, not ${task.cluster}`, {
      details: { taskId: task.taskId, generation: task.generation, cluster: record.cluster },
    });
  }
}

/** A missing executable is a resource failure (another node may have it); anything else cannot start. */
function spawnError(error: NodeJS.ErrnoException, command: string[]): GoatError {
  if (error.code === 'ENOENT') {
    return new GoatError('GOAT_ERR_RESOURCE', `executable ${command[0]} not found on this node`, {
      details: { resource: 'executable', executable: command[0] },
      cause: error,
    });
  }
  return new GoatError('GOAT_ERR_TASK_START', `cannot start ${command[0]}: ${error.message}`, {
    details: { executable: command[0], errno: error.code },
    cause: error,
  });
}
