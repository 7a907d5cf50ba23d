/**
 * A worker in its own OS process (spec/fixtures/worker-main.ts), for tests
 * that kill it with SIGKILL and start it again: its stdout JSON lines are
 * collected, and at teardown it is killed if it still runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskView, WorkerEvent } from '../../actors/worker/index.js';
import { ROOT } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';

/** The compiled fixture. */
export const WORKER_MAIN = join(ROOT, 'dist', 'spec', 'fixtures', 'worker-main.js');

/** The first line the fixture prints. */
export interface ReadyLine {
  ready: true;
  nodeId: string;
  pid: number;
  runtime: 'docker' | 'process';
  status: 'ready' | 'degraded';
}

/** One stdout line of the fixture. */
export type WorkerLine = ReadyLine | WorkerEvent | { assigned: { taskId: string; applied: boolean } };

/** How to start the fixture. */
export interface WorkerProcessOptions {
  dataDir: string;
  runtime: 'docker' | 'process';
  cluster: string;
  /** One assignment or several, applied after the start. */
  assign?: unknown;
}

/** A running worker-main process. */
export class WorkerProcess {
  /** The JSON lines it printed, in order. */
  readonly lines: WorkerLine[] = [];
  /** Other stdout lines (log output of the worker), kept for failure messages. */
  readonly other: string[] = [];
  stderr = '';
  /** Settles when the process is gone, with its code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(readonly child: ChildProcess) {
    let rest = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      rest += chunk;
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const text = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        const parsed = parseLine(text);
        if (parsed) this.lines.push(parsed);
        else if (text.trim()) this.other.push(text);
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** True until the process exited. */
  get alive(): boolean {
    return this.#exit === undefined;
  }

  /** The `ready` line, once printed (rejects if the process dies first). */
  async ready(timeoutMs = 30_000): Promise<ReadyLine> {
    return this.until('the worker process to be ready', () => this.lines.find((l): l is ReadyLine => 'ready' in l), timeoutMs);
  }

  /** The last reported view of task `id`. */
  task(id: string): TaskView | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const l = this.lines[i];
      if (l && 'type' in l && l.type === 'task' && l.task.id === id) return l.task;
    }
    return undefined;
  }

  /** Every worker event printed so far. */
  events(): WorkerEvent[] {
    return this.lines.filter((l): l is WorkerEvent => 'type' in l);
  }

  /** Polls `probe` until truthy; fails at once (with its stderr) if the process exits meanwhile. */
  async until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<NonNullable<T>> {
    return eventually(
      what,
      () => {
        const value = probe();
        if (value) return value;
        if (!this.alive) throw new Error(`worker process ${this.pid} exited (${JSON.stringify(this.#exit)}) before ${what}; stderr: ${this.stderr}`);
        return undefined;
      },
      timeoutMs,
    );
  }

  /** `kill -9`, resolved once the process is gone. */
  async kill9(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** A short account of what it printed, for failure messages. */
  transcript(): string {
    return [...this.lines.map((l) => JSON.stringify(l)), ...this.other.map((l) => `log: ${l}`), this.stderr && `stderr: ${this.stderr}`].filter(Boolean).join('\n');
  }
}

/** A JSON object line of the fixture, or undefined for anything else (the worker may log to stdout too). */
function parseLine(text: string): WorkerLine | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as WorkerLine) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the fixture; at teardown it is killed with SIGKILL unless it already exited. */
export function startWorkerProcess(t: { teardown(fn: () => Promise<void> | void): void }, options: WorkerProcessOptions): WorkerProcess {
  const args = [WORKER_MAIN, '--data-dir', options.dataDir, '--runtime', options.runtime, '--cluster', options.cluster];
  if (options.assign !== undefined) args.push('--assign', JSON.stringify(options.assign));
  const wp = new WorkerProcess(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  t.teardown(() => wp.kill9());
  return wp;
}

/** Pids of the live (not zombie) processes whose argv contains every one of `args`, found in /proc. */
export async function livePidsWithArgs(...args: string[]): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0');
      if (!args.every((a) => argv.includes(a))) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && state !== 'X') pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids.sort((a, b) => a - b);
}
