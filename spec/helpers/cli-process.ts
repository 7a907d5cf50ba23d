/**
 * A cluster of real `goat-cluster` processes on loopback, for multi-process
 * tests: a manager (`manager --data-dir --listen --token`) and workers
 * (`worker --join --token --data-dir --name --runtime`), each started with
 * `node dist/lib/cli/main.js …` in its own process group, plus one-shot CLI
 * commands (`run`, `ps --json`, …) and the HTTP API. `cleanup()` SIGKILLs
 * every process group it started, then the task processes the workers left
 * behind (found by a marker argument and by the workers' process records).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../runtime/helpers/repo.js';
import { eventually, pidExists } from '../runtime/helpers/wait.js';
import { livePidsWithArgs } from './worker-process.js';
import { testEnv } from './env.js';

/** The compiled CLI. */
export const CLI = join(ROOT, 'dist', 'lib', 'cli', 'main.js');

/** The environment of every process started here (see ./env.ts). */
const cleanEnv = (): NodeJS.ProcessEnv => testEnv();

/** What a one-shot CLI command did. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `goat-cluster ARGS` to completion. */
export function cli(args: string[], timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: cleanEnv(), timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A long-running CLI process (`manager`, `worker`) in its own process group. */
export class ServerProcess {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #gone = false;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const collect = (chunk: Buffer): void => void (this.output += chunk.toString('utf8'));
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#gone = true;
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return !this.#gone;
  }

  /** `kill -9` of its whole process group; resolves once it is gone. */
  async kill9(): Promise<void> {
    if (this.alive) killGroup(this.pid);
    await this.exited;
  }
}

/** Starts `goat-cluster ARGS` detached (pgid = pid). */
export function startCli(name: string, args: string[], env: NodeJS.ProcessEnv = {}): ServerProcess {
  return new ServerProcess(name, spawn(process.execPath, [CLI, ...args], { env: { ...cleanEnv(), ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** SIGKILL to process group `pid` (falling back to the process); never throws. */
export function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
      return;
    } catch {
      // not a group leader, or gone
    }
  }
}

/** `<dataDir>/tasks/<taskId>-g<gen>/process.json`, as the process runtime writes it (the fields tests read). */
export interface ProcessRecordView {
  taskId: string;
  generation: number;
  service: string;
  pid: number;
  startTime: number | null;
  exit?: unknown;
}

/** Every process record under a worker's data dir. */
export async function processRecords(dataDir: string): Promise<ProcessRecordView[]> {
  const root = join(dataDir, 'tasks');
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const out: ProcessRecordView[] = [];
  for (const name of names) {
    try {
      out.push(JSON.parse(await readFile(join(root, name, 'process.json'), 'utf8')) as ProcessRecordView);
    } catch {
      // being written, or not a task folder
    }
  }
  return out;
}

/** Argv of a live (non-zombie) process, or undefined. */
export async function liveArgv(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  } catch {
    return undefined;
  }
}

/** One worker process of a {@link ProcessCluster}. */
export interface WorkerHandle {
  name: string;
  dataDir: string;
  proc: ServerProcess;
}

/** A JSON API answer. */
export interface ApiAnswer<T = unknown> {
  status: number;
  json: T;
}

/** A manager and workers as processes, sharing one temporary directory. */
export class ProcessCluster {
  readonly workers: WorkerHandle[] = [];
  /** Every process ever started here (killed at cleanup). */
  readonly #all: ServerProcess[] = [];
  /** Marker arguments given to task commands (their processes are killed at cleanup). */
  readonly markers = new Set<string>();
  manager!: ServerProcess;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly token: string,
  ) {}

  /** A temporary directory, a port and a token; nothing started yet. */
  static async create(port: number, token: string): Promise<ProcessCluster> {
    return new ProcessCluster(await mkdtemp(join(tmpdir(), 'goat-procs-')), port, token);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get managerDir(): string {
    return join(this.dir, 'manager');
  }

  /**
   * Starts `manager` (on the same data dir and port every time) and waits until `/readyz` answers 200.
   * `command: 'start'` starts a manager with its local worker (node `local`) instead; `args` are added.
   */
  async startManager(timeoutMs = 20_000, options: { command?: 'manager' | 'start'; args?: string[] } = {}): Promise<ServerProcess> {
    const command = options.command ?? 'manager';
    this.manager = this.#track(startCli(command, [command, '--data-dir', this.managerDir, '--listen', `127.0.0.1:${this.port}`, '--token', this.token, ...(options.args ?? [])]));
    const m = this.manager;
    await eventually('the manager to be ready', async () => {
      if (!m.alive) throw new Error(`manager exited before it was ready:\n${m.output}`);
      return (await this.fetchStatus('/readyz')) === 200;
    }, timeoutMs);
    return m;
  }

  /** Starts `worker --join … --name NAME [args]` (not waiting for it to link). */
  startWorker(name: string, options: { runtime?: 'process' | 'docker'; token?: string; env?: NodeJS.ProcessEnv; args?: string[] } = {}): WorkerHandle {
    const dataDir = join(this.dir, name);
    const proc = this.#track(startCli(name, [
      'worker', '--join', `ws://127.0.0.1:${this.port}`, '--token', options.token ?? this.token, '--data-dir', dataDir, '--name', name, '--runtime', options.runtime ?? 'process',
      ...(options.args ?? []),
    ], options.env));
    const w = { name, dataDir, proc };
    if (options.token === undefined || options.token === this.token) this.workers.push(w);
    return w;
  }

  #track(p: ServerProcess): ServerProcess {
    this.#all.push(p);
    return p;
  }

  /** `goat-cluster ARGS --manager URL --token T`. */
  cli(...args: string[]): Promise<CliResult> {
    return cli([...args, '--manager', this.url, '--token', this.token]);
  }

  /** `goat-cluster ARGS --json …`, parsed; throws with stderr when it exits non-zero. */
  async cliJson<T>(...args: string[]): Promise<T> {
    const r = await this.cli(...args, '--json');
    if (r.code !== 0) throw new Error(`goat-cluster ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** An HTTP status of a GET (no auth), or 0 when nothing answers. */
  async fetchStatus(path: string): Promise<number> {
    try {
      const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  /** The HTTP API with the bearer token. */
  async api<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer<T>> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
  }

  /** Kills every process started here (process groups), then the task processes left behind, then removes the directory. */
  async cleanup(): Promise<void> {
    await Promise.all(this.#all.map((p) => p.kill9()));
    const pids = new Set<number>();
    for (const marker of this.markers) for (const pid of await livePidsWithArgs(marker)) pids.add(pid);
    for (const w of this.workers) {
      for (const r of await processRecords(w.dataDir)) {
        const argv = await liveArgv(r.pid);
        if (argv && [...this.markers].some((m) => argv.includes(m))) pids.add(r.pid);
      }
    }
    for (const pid of pids) killGroup(pid);
    await eventually('task processes gone', () => [...pids].every((pid) => !pidExists(pid)), 5_000).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
