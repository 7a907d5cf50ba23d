/**
 * The manager end to end, against the targets (no baseline runs side
 * by side):
 *
 * - throughput: a Manager (temp data dir, real SQLite) and 100 simulated
 *   workers (real {@link LinkClient}s over real WebSockets, in this process);
 *   20 services × 100 replicas submitted at once through the HTTP API; timed
 *   from the first submit until the manager has every task `running` (its
 *   event stream, then checked in its store). Target ≥ 2,000 tasks/s.
 * - memory: the manager alone in a child process (bench/fixtures/manager-child),
 *   1,000 simulated workers linked from this process (heartbeats every 1 s,
 *   the default), 100 services × 100 replicas; once all are running, the
 *   child's RSS, after a few seconds of steady heartbeats. Target ≤ 300 MB.
 *
 * `scale` scales the replicas per service (and the memory benchmark's fleet).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManagerChildRequest, ManagerChildStats } from './fixtures/manager-child.js';
import { simFleet } from './fixtures/sim-workers.js';
import { sleep, startSimCluster, waitFor, whenAllRunning } from './fixtures/sim-cluster.js';
import { now } from './measure.js';

const TOKEN = 'bench-token-0123456789';

/** The throughput measurement. */
export interface ClusterThroughput {
  name: string;
  tasks: number;
  workers: number;
  /** Median over the rounds. */
  tasksPerSec: number;
  /** Every round's rate. */
  rounds: number[];
}

/** The memory measurement. */
export interface ClusterMemory {
  name: string;
  tasks: number;
  workers: number;
  /** The manager's RSS once every task runs, bytes. */
  rssAtRunning: number;
  /** The manager's RSS after `settleMs` more of steady heartbeats, bytes. */
  rssSettled: number;
  heapUsedSettled: number;
  settleMs: number;
  /** From the first submit until every task ran, ms. */
  runningAfterMs: number;
  /** The manager's longest event-loop stall during the run, ms. */
  lagMaxMs: number;
  /** Null when every worker stayed linked throughout; else what closed. */
  linkDrops: string | null;
}


/** PUTs `count` services of `replicas` each, all at once; resolves when every PUT answered 201. */
async function submitServices(url: string, prefix: string, count: number, replicas: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, async (_, s) => {
    const res = await fetch(`${url}/v1/services/${prefix}-${s}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ replicas, task: { image: 'goat/echo', resources: { cpu: 0.1, memoryMb: 128 } } }),
    });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`PUT service ${prefix}-${s}: ${res.status} ${text}`);
  }));
}

/** One round: a fresh manager and fleet; returns tasks/s. */
async function throughputRound(services: number, replicas: number, workers: number): Promise<number> {
  const c = await startSimCluster({ token: TOKEN, workers, tmpPrefix: 'goat-bench-e2e-' });
  try {
    const m = c.manager;
    const total = services * replicas;
    const allRunning = whenAllRunning(m, total, 120_000);
    const t0 = now();
    await submitServices(m.url, 'svc', services, replicas);
    const ms = (await allRunning) - t0;
    const inStore = m.listTasks({ state: 'running' }).length;
    if (inStore !== total) throw new Error(`the store has ${inStore} running tasks, expected ${total}`);
    return (total * 1000) / ms;
  } finally {
    await c.stop();
  }
}

/** Services submitted through the API onto 100 simulated workers until all run: median tasks/s over the rounds. */
export async function clusterThroughputBenchmark(scale = 1, rounds = 3): Promise<ClusterThroughput> {
  const services = 20;
  const replicas = Math.max(1, Math.round(100 * scale));
  const workers = 100;
  await throughputRound(services, Math.max(1, Math.round(replicas / 10)), workers); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) rates.push(await throughputRound(services, replicas, workers));
  const sorted = [...rates].sort((a, b) => a - b);
  const tasks = services * replicas;
  return {
    name: `end to end: API → ${tasks.toLocaleString('en-US')} tasks running on ${workers} sim workers`,
    tasks, workers, tasksPerSec: sorted[Math.floor(sorted.length / 2)]!, rounds: rates,
  };
}

/** A manager in a child process, spoken to over IPC. */
class ManagerChild {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  url = '';

  constructor(dataDir: string, execArgv: string[]) {
    const script = fileURLToPath(new URL('./fixtures/manager-child.js', import.meta.url));
    this.#child = fork(script, [dataDir, TOKEN], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
  }

  async ready(): Promise<void> {
    this.url = await new Promise<string>((resolve, reject) => {
      this.#child.once('message', (m: { type: string; url: string }) => (m.type === 'ready' ? resolve(m.url) : reject(new Error(`unexpected ${m.type}`))));
      this.#child.once('exit', (code) => reject(new Error(`manager child exited (${code}) before it was ready`)));
    });
  }

  stats(gc = false): Promise<ManagerChildStats> {
    return new Promise((resolve) => {
      const on = (m: ManagerChildStats): void => {
        if (m.type !== 'stats') return;
        this.#child.off('message', on);
        resolve(m);
      };
      this.#child.on('message', on);
      this.#send({ type: 'stats', gc });
    });
  }

  /** Asks it to stop; kills it (this child, by its pid) if it has not exited after 10 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#send({ type: 'stop' });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }

  #send(m: ManagerChildRequest): void {
    if (this.#child.connected) this.#child.send(m);
  }
}

/** The manager's RSS with `1000 × scale` (≥ 100) linked workers and `100 × 100 × scale` running tasks. */
export async function clusterMemoryBenchmark(scale = 1, settleMs = 5_000): Promise<ClusterMemory> {
  const services = 100;
  const replicas = Math.max(1, Math.round(100 * scale));
  const workers = Math.max(100, Math.round(1_000 * scale));
  const total = services * replicas;
  const dir = await mkdtemp(join(tmpdir(), 'goat-bench-mem-'));
  const child = new ManagerChild(dir, process.env['BENCH_MANAGER_EXECARGV']?.split(' ').filter(Boolean) ?? []);
  let fleet: ReturnType<typeof simFleet> | undefined;
  try {
    await child.ready();
    const url = child.url;
    fleet = simFleet({ url, token: TOKEN, count: workers });
    await fleet.connected(120_000);
    await waitFor('workers linked', async () => {
      const res = await fetch(`${url}/v1/nodes`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return ((await res.json()) as { status: string }[]).filter((n) => n.status === 'ready').length === workers;
    }, 60_000, 200);
    const t0 = now();
    const started = Date.now();
    await submitServices(url, 'mem', services, replicas);
    let last: ManagerChildStats | undefined;
    let lagMaxMs = 0;
    await waitFor(`${total} tasks running`, async () => {
      last = await child.stats();
      lagMaxMs = Math.max(lagMaxMs, last.lagMaxMs);
      return last.running >= total;
    }, 300_000, 250);
    const runningAfterMs = now() - t0;
    const atRunning = last!;
    await sleep(settleMs);
    const settled = await child.stats();
    lagMaxMs = Math.max(lagMaxMs, settled.lagMaxMs);
    const d = fleet.disconnects;
    const linkDrops = d.length === 0 ? null
      : `${d.length} links closed (${new Set(d.map((x) => x.nodeId)).size} workers), the first ${Math.round(d[0]!.at - started)} ms after the first submit: ${d[0]!.code} ${d[0]!.reason}`;
    return {
      name: `manager RSS: ${workers.toLocaleString('en-US')} sim workers, ${total.toLocaleString('en-US')} tasks`,
      tasks: total, workers, rssAtRunning: atRunning.rss, rssSettled: settled.rss, heapUsedSettled: settled.heapUsed, settleMs, runningAfterMs, lagMaxMs, linkDrops,
    };
  } finally {
    await fleet?.stop();
    await child.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
