/**
 * Several `goat-cluster manager --etcd …` processes on a real 3-member etcd
 * cluster, plus `goat-cluster worker --runtime process` processes joined to
 * every manager's URL (or only some), all on free loopback ports in one temp
 * dir, killed and removed at cleanup.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killGroup, processRecords, startCli, type ServerProcess } from './cli-process.js';
import { EtcdCluster, freePort } from './etcd-cluster.js';
import { eventually, pidExists } from '../runtime/helpers/wait.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';

/** A task as `/v1/tasks` shows it. */
export interface HaTask { id: string; slot: number; generation: number; node: string | null; state: string; desired: string; restarts: number }
/** A node as `/v1/nodes` shows it. */
export interface HaNode { id: string; name: string; status: string }

/** A service of `replicas` echo-server processes (`run` makes its process names unique to the test run). */
export function echoService(run: string, name: string, replicas: number): unknown {
  return { name, replicas, task: { command: ['node', ECHO_SERVER, `${run}-${name}`], env: { PORT: '0' } } };
}

/** One manager process. */
export interface HaManagerHandle {
  name: string;
  port: number;
  url: string;
  dataDir: string;
  proc: ServerProcess;
}

/** A worker process. */
export interface HaWorkerHandle {
  name: string;
  dataDir: string;
  proc: ServerProcess;
}

/** The cluster. */
export class HaCluster {
  readonly managers: HaManagerHandle[] = [];
  readonly workers: HaWorkerHandle[] = [];
  readonly #all: ServerProcess[] = [];

  private constructor(readonly dir: string, readonly etcd: EtcdCluster, readonly token: string, readonly leaseTtlMs: number) {}

  /** A temp dir and a running 3-member etcd; no manager yet. */
  static async create(token: string, leaseTtlMs = 3_000): Promise<HaCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'goat-ha-'));
    return new HaCluster(dir, await EtcdCluster.start(3), token, leaseTtlMs);
  }

  /** Starts manager `i` (again on its port and data dir when it existed). */
  async startManager(i: number): Promise<HaManagerHandle> {
    const old = this.managers[i];
    const port = old?.port ?? (await freePort());
    const dataDir = join(this.dir, `manager${i}`);
    const proc = startCli(`manager${i}`, [
      'manager', '--etcd', this.etcd.endpoints.join(','), '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--token', this.token,
    ]);
    this.#all.push(proc);
    const m = { name: `manager${i}`, port, url: `http://127.0.0.1:${port}`, dataDir, proc };
    this.managers[i] = m;
    await eventually(`manager${i} answers`, async () => {
      if (!proc.alive) throw new Error(`manager${i} exited:\n${proc.output}`);
      // Started: it printed its line (after its first campaign), and it answers.
      return proc.output.includes('goat-cluster: manager') && (await status(m.url, '/healthz')) === 200;
    }, 20_000);
    return m;
  }

  /** Starts a worker joined to `urls` (default: every manager). */
  startWorker(name: string, urls: string[] = this.managers.map((m) => m.url), token = this.token): HaWorkerHandle {
    const dataDir = join(this.dir, name);
    const proc = startCli(name, ['worker', '--join', urls.join(','), '--token', token, '--data-dir', dataDir, '--name', name, '--runtime', 'process']);
    this.#all.push(proc);
    const w = { name, dataDir, proc };
    this.workers.push(w);
    return w;
  }

  /** The manager whose /readyz is 200 (the leader), once there is exactly one. */
  async leader(timeoutMs = 20_000): Promise<HaManagerHandle> {
    return eventually('one leader', async () => {
      const ready: HaManagerHandle[] = [];
      for (const m of this.managers) if (m?.proc.alive && (await status(m.url, '/readyz')) === 200) ready.push(m);
      return ready.length === 1 ? ready[0] : undefined;
    }, timeoutMs);
  }

  /** The HTTP API of manager `m` with the token. */
  async api<T = unknown>(m: HaManagerHandle, method: string, path: string, body?: unknown, token = this.token): Promise<{ status: number; json: T; headers: Headers }> {
    const res = await fetch(`${m.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
  }

  /** Waits until `service` has exactly `n` running tasks (and nothing else meant to run), read through `m`. */
  async running(m: HaManagerHandle, service: string, n: number, timeoutMs = 30_000): Promise<HaTask[]> {
    let last = '';
    try {
      return await eventually(`${n} running tasks of ${service}`, async () => {
        const r = await this.api<HaTask[]>(m, 'GET', `/v1/tasks?service=${service}`).catch(() => undefined);
        if (r?.status !== 200) return undefined;
        last = JSON.stringify(r.json.map((t) => [t.slot, t.generation, t.state, t.desired]));
        const live = r.json.filter((t) => t.state === 'running' && t.desired === 'running');
        return live.length === n && r.json.every((t) => t.desired !== 'running' || t.state === 'running') ? live : undefined;
      }, timeoutMs, 200);
    } catch (err) {
      throw new Error(`${(err as Error).message}; last: ${last}`, { cause: err });
    }
  }

  /** pid of each task process, by task id, from the workers' process records. */
  async pids(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const w of this.workers) for (const r of await processRecords(w.dataDir)) out.set((r as unknown as { taskId: string }).taskId, r.pid);
    return out;
  }

  /** Waits until `n` nodes are ready, as `m` sees them. */
  async nodesReady(m: HaManagerHandle, n: number, timeoutMs = 30_000): Promise<HaNode[]> {
    return eventually(`${n} nodes ready`, async () => {
      const r = await this.api<HaNode[]>(m, 'GET', '/v1/nodes').catch(() => undefined);
      return r?.status === 200 && r.json.filter((x) => x.status === 'ready').length === n ? r.json : undefined;
    }, timeoutMs, 200);
  }

  /** SIGSTOP / SIGCONT of manager `m`'s process group. */
  pause(m: HaManagerHandle, signal: 'SIGSTOP' | 'SIGCONT'): void {
    process.kill(-m.proc.pid, signal);
  }

  /** Kills everything started here (task processes of the workers too), stops etcd, removes the dir. */
  async cleanup(): Promise<void> {
    for (const p of this.#all) {
      try {
        process.kill(-p.pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    await Promise.all(this.#all.map((p) => p.kill9()));
    const pids: number[] = [];
    for (const w of this.workers) for (const r of await processRecords(w.dataDir)) if (pidExists(r.pid)) pids.push(r.pid);
    for (const pid of pids) killGroup(pid);
    await this.etcd.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The status of a GET without a token, or 0 when nothing answers. */
export async function status(base: string, path: string): Promise<number> {
  try {
    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
