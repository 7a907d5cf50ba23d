/**
 * The runtime contract: how a worker runs, watches and adopts task instances,
 * whatever runs them (Docker containers or local processes). Split roughly
 * like SwarmKit's controller: prepare → start → wait, plus stop / remove and
 * the node-level views (list, capacity, health). One task instance is always
 * addressed by `(taskId, generation)`.
 */
import type { LogReadOptions, LogReader } from '../logs/types.js';

/** Which runtime runs the tasks. */
export type RuntimeKind = 'docker' | 'process';

/** A published port: `container` inside the task, `host` on the node (chosen by the engine when absent). */
export interface PortMapping {
  /** Port on the node; docker picks a free one when absent, the process runtime uses `container`. */
  host?: number;
  /** Port the program listens on. */
  container: number;
}

/** Resources a task asks for. */
export interface TaskResources {
  /** CPUs (fractions allowed); docker enforces it (NanoCpus), the process runtime only checks it. */
  cpu?: number;
  /** Memory limit in MiB; docker enforces it (no swap), the process runtime only checks it. */
  memoryMb?: number;
  /** Disk the task will write, in MiB; checked against free space before starting. */
  diskMb?: number;
}

/** What a runtime runs: the part of a task spec it needs (see DESIGN.md, "Service and task spec"). */
export interface RuntimeTaskSpec {
  /** Docker image, e.g. `goat/echo:latest`; required by the docker runtime, never pulled. */
  image?: string;
  /**
   * Process runtime: the full argv (`['node', 'server.js']`), required.
   * Docker: the container's command (the image entrypoint's arguments, Docker semantics).
   */
  command?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Published ports; the process runtime sets `PORT` from the first one. */
  ports?: PortMapping[];
  /** Limits and reservations. */
  resources?: TaskResources;
}

/** Who a task instance is and where it belongs: what its labels (docker) or record (process) carry. */
export interface TaskIdentity {
  /** Task id, `<service>.<slot>.<nanoid>`; letters, digits, `_`, `.` and `-` only. */
  taskId: string;
  /** Placement generation; bumped by the manager every time it re-places the slot. */
  generation: number;
  /** Service name. */
  service: string;
  /** Slot index within the service. */
  slot: number;
  /** The node (worker) it was started for. */
  nodeId: string;
  /** The cluster it belongs to; containers and records are labelled with it. */
  cluster: string;
}

/** One task instance to run: identity, placement and spec. */
export interface RuntimeTask extends TaskIdentity {
  /** What to run. */
  spec: RuntimeTaskSpec;
}

/** Why a task instance is no longer running. */
export type ExitReason =
  /** The program exited (or was killed) on its own; `code` 0 means success. */
  | 'exited'
  /** The kernel killed it for exceeding its memory limit. */
  | 'oom'
  /** This runtime stopped it (`stop` or `remove`). */
  | 'stopped'
  /** It is gone and its exit status cannot be known (e.g. an adopted process died). */
  | 'unknown';

/** How a task instance ended. */
export interface ExitInfo {
  /** Exit code; 128 + n when killed by signal n (as shells and Docker report it); null when unknown. */
  code: number | null;
  /** The signal that killed it, when the runtime knows it (e.g. `SIGKILL`). */
  signal: string | null;
  /** True when killed for exceeding its memory limit. */
  oomKilled: boolean;
  /** Machine-readable cause. */
  reason: ExitReason;
  /** One line for humans, e.g. `exited with code 3`. */
  message: string;
  /** When it ended, ms since the epoch (or when the runtime noticed, if unknown). */
  finishedAt: number;
  /** The last lines of its output: stdout's, then stderr's (each oldest first); at most the runtime's `logLines`. */
  logTail: string[];
}

/** The handle `start` returns. */
export interface RunningTask {
  /** Task id. */
  taskId: string;
  /** Generation. */
  generation: number;
  /** Container id (docker) or pid as a string (process). */
  runtimeId: string;
  /** When this run started, ms since the epoch. */
  startedAt: number;
  /** True when it was already running and `start` adopted it instead of starting it again. */
  adopted: boolean;
  /** Ports as actually published (docker fills in engine-chosen host ports). */
  ports: PortMapping[];
}

/** What the runtime knows about one task instance (`inspect`, `list`). */
export interface TaskStatus extends TaskIdentity {
  /** Container id (docker) or pid as a string (process). */
  runtimeId: string;
  /** True while the program runs. */
  running: boolean;
  /** The engine's word for the state: `created`, `running`, `exited`, `dead`, … */
  state: string;
  /** When the current (or last) run started, ms since the epoch; undefined if it never started. */
  startedAt?: number;
  /** How the last run ended; undefined while running or if it never ran. */
  exit?: ExitInfo;
  /** Ports as published. */
  ports: PortMapping[];
}

/** What `prepare` found. */
export interface PrepareResult {
  /** True when this (taskId, generation) already exists here; `start` will adopt or restart it. */
  exists: boolean;
  /** Disk the task needs in MiB (docker: image size + `diskMb`; process: `diskMb`). */
  diskNeededMb: number;
  /** Free disk in MiB where the task's data goes; undefined when it cannot be measured. */
  diskFreeMb?: number;
}

/** Resource usage of one running task instance. */
export interface TaskStats {
  /** Resident memory in MiB (docker: cgroup usage without page cache; process: RSS of its process group). */
  memoryMb: number;
  /** CPU time used since it started, in seconds; diff two samples for a rate. */
  cpuSeconds: number;
}

/** What the node offers (totals, not what is left after reservations). */
export interface Capacity {
  /** CPUs the engine (or this machine) has. */
  cpus: number;
  /** Memory in MiB. */
  memoryMb: number;
  /** Free disk in MiB of `diskPath`; undefined when it cannot be measured. */
  diskFreeMb?: number;
  /** Total disk in MiB of `diskPath`; undefined when it cannot be measured. */
  diskTotalMb?: number;
  /** Docker's root dir, or the process runtime's data dir. */
  diskPath: string;
}

/** Is the engine reachable? */
export interface RuntimeHealth {
  /** True when tasks can be started and watched. */
  ok: boolean;
  /** Why, e.g. `docker 20.10.24 answers` or `connect ENOENT /var/run/docker.sock`. */
  detail: string;
  /** When this was observed, ms since the epoch. */
  at: number;
}

/** How a command run by {@link Runtime.exec} ended. */
export interface ExecResult {
  /** Its exit code; null when it could not run or timed out. */
  code: number | null;
  /** Its output (stdout then stderr), at most a few KiB, or why it could not run. */
  output: string;
}

/** The last lines a task wrote. */
export interface LogTail {
  /** Last lines of stdout, oldest first. */
  stdout: string[];
  /** Last lines of stderr, oldest first. */
  stderr: string[];
}

/** Which tasks `list` returns; unset fields default to the runtime's own cluster and node. */
export interface ListFilter {
  /** Only this cluster's tasks. */
  cluster?: string;
  /** Only tasks started for this node. */
  nodeId?: string;
}

/**
 * Runs task instances on one node. Every method is safe to retry: starting
 * what runs is adopting it, stopping or removing what is gone is a no-op.
 * Errors are {@link GoatError}s: `GOAT_ERR_RESOURCE` (this node lacks
 * something; place the task elsewhere), `GOAT_ERR_TASK_START` (the program
 * cannot start; an application failure), `GOAT_ERR_RUNTIME_UNAVAILABLE` (the
 * engine is down; temporary), `GOAT_ERR_INVALID_SPEC`, `GOAT_ERR_RUNTIME`.
 */
export interface Runtime {
  /** Which runtime this is. */
  readonly kind: RuntimeKind;

  /** Checks that the task can run here (image present, disk, cpu, memory, host ports, executable); throws `GOAT_ERR_RESOURCE` with `details.resource` when not. Skips the checks when the instance already exists. */
  prepare(task: RuntimeTask): Promise<PrepareResult>;

  /** Starts the instance, or adopts it when it already runs, or starts it again when it exists but exited; never creates a second one for the same (taskId, generation). */
  start(task: RuntimeTask): Promise<RunningTask>;

  /** Resolves when the instance is not running (at once if it already exited) with how it ended; rejects `GOAT_ERR_NO_SUCH_TASK` if it does not exist. */
  wait(taskId: string, generation: number): Promise<ExitInfo>;

  /** What the runtime knows about the instance, or undefined when it does not exist. */
  inspect(taskId: string, generation: number): Promise<TaskStatus | undefined>;

  /** Sends the stop signal (SIGTERM) and SIGKILL after `timeoutMs`; resolves with how it ended once it is not running, or undefined when it does not exist. */
  stop(taskId: string, generation: number, timeoutMs: number): Promise<ExitInfo | undefined>;

  /** Kills the instance if it still runs and deletes it (container, or record and log files); a no-op when it does not exist. */
  remove(taskId: string, generation: number): Promise<void>;

  /** Every instance of ours that exists here, running or not (docker: by labels; process: by records in the data dir), for adoption after a restart. */
  list(filter?: ListFilter): Promise<TaskStatus[]>;

  /** The last `lines` lines (default 50) the instance wrote; undefined when it does not exist. */
  logs(taskId: string, generation: number, lines?: number): Promise<LogTail | undefined>;

  /**
   * Reads the instance's output as lines with their stream and time: what
   * exists (after `since`, the last `tail`), then with `follow` what it writes
   * until it ends. Undefined when the instance does not exist here.
   */
  openLogs(taskId: string, generation: number, options: LogReadOptions): Promise<LogReader | undefined>;

  /** Current memory and CPU use of a running instance; undefined when it is not running. */
  stats(taskId: string, generation: number): Promise<TaskStats | undefined>;

  /** Runs `argv` inside the instance (docker: `docker exec`; process: on the node, in the task's folder), for exec health checks; never throws for a failing command. */
  exec(taskId: string, generation: number, argv: string[], timeoutMs: number): Promise<ExecResult>;

  /** What this node offers: CPUs, memory, free disk where tasks' data lives. */
  capacity(): Promise<Capacity>;

  /** Asks the engine now whether it answers (docker: ping; process: always ok). */
  health(): Promise<RuntimeHealth>;

  /** Calls `listener` when health changes (the engine went away or came back), starting with the first observation after subscribing; returns the unsubscribe function. */
  onHealth(listener: (health: RuntimeHealth) => void): () => void;

  /** Releases timers, event streams and pollers; running tasks are left alone. */
  close(): Promise<void>;
}
