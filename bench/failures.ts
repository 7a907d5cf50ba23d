/**
 * Failures across the network (issue 5), against the targets; the
 * defaults of Swarm, Nomad and Kubernetes are quoted, not run:
 *
 * - worker killed: a Manager in this process (default settings), three
 *   `goat-cluster worker --runtime process` processes, each in its own
 *   process group; a 3-replica echo service (`node images/echo/server.js`,
 *   PORT=0). One worker's process group and its task processes (each in a
 *   group of its own) get SIGKILL at the same instant, as in a machine
 *   crash; timed from the kill until every slot has a running task on another
 *   node. Target ≤ 5 s.
 * - false `down` verdicts: a manager in a child process, 50 simulated workers
 *   heartbeating normally from this process, and one busy-looping process per
 *   CPU for the whole window (60 s × scale); the `node.status → down` events
 *   in the manager's event log are counted at the end. Target 0.
 * - link storm: 500 simulated workers with the default reconnect backoff
 *   linked to a manager in a child process; the manager is killed (SIGKILL)
 *   and started again on the same data dir and port; every connection attempt
 *   of every worker is timed (the first, then each retry at the delay its
 *   `disconnected` event announces). Reports the peak number of attempts in
 *   any 100 ms window and the time until all are linked again. No target.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Manager } from '../actors/manager/manager.js';
import { LinkClient } from '../transport/index.js';
import { simFleet } from './fixtures/sim-workers.js';
import { now } from './measure.js';

const TOKEN = 'bench-token-0123456789';
const quiet = { info: () => undefined, warn: () => undefined };
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist', 'lib', 'cli', 'main.js');
const ECHO = join(ROOT, 'images', 'echo', 'server.js');

/** The manager's default recovery grace after a start (2 × downAfterMs of 4 s), plus a margin. */
const RECOVERY_GRACE_MS = 8_500;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function waitFor(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** SIGKILL, ignoring a process (group) already gone. */
function kill9(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** Live processes (pid, parent pid) whose command line contains `marker` (Linux /proc). */
async function processesWith(marker: string): Promise<{ pid: number; ppid: number }[]> {
  const out: { pid: number; ppid: number }[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8');
      if (!cmdline.includes(marker)) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      out.push({ pid: Number(name), ppid: Number(fields[1]) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The environment for child processes, without the caller's GOAT_* settings. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GOAT_')));
}

/** The worker-killed measurement. */
export interface WorkerKilled {
  name: string;
  /** Median over the rounds, ms. */
  ms: number;
  rounds: number[];
}

/** One round: a fresh manager and three worker processes; ms from the kill until all 3 slots run elsewhere. */
async function workerKilledRound(round: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'goat-bench-kill-'));
  const marker = `goat-bench-kill-${process.pid}-${round}`;
  const workers: ChildProcess[] = [];
  let manager: Manager | undefined;
  try {
    const started = now();
    manager = await Manager.start({ dataDir: join(dir, 'manager'), listen: '127.0.0.1:0', token: TOKEN, logger: quiet });
    const m = manager;
    for (let i = 0; i < 3; i++) {
      const args = [CLI, 'worker', '--join', m.url.replace(/^http/, 'ws'), '--token', TOKEN, '--data-dir', join(dir, `w${i}`), '--runtime', 'process', '--name', `w${i}`];
      workers.push(spawn(process.execPath, args, { env: cleanEnv(), detached: true, stdio: 'ignore' }));
    }
    await waitFor('3 workers ready', () => m.listNodes().filter((n) => n.status === 'ready').length === 3, 30_000);
    await m.putService({ replicas: 3, task: { command: [process.execPath, ECHO, marker], env: { PORT: '0' } } }, 'echo');
    const running = (): { node: string | null; slot: number }[] => m.listTasks({ service: 'echo', state: 'running' }).filter((t) => t.desired === 'running');
    await waitFor('3 echo tasks running', () => running().length === 3, 30_000);
    // The victim: a worker with a task; its pid from the node name.
    const nodes = m.listNodes();
    const victimNode = running()[0]!.node!;
    const victimName = nodes.find((n) => n.id === victimNode)!.name;
    const victim = workers[Number(victimName.slice(1))]!;
    const tasks = (await processesWith(marker)).filter((p) => p.ppid === victim.pid);
    if (tasks.length === 0) throw new Error(`no echo process found under worker ${victimName}`);
    // Past the recovery grace of a fresh start (2 × the 4 s down timeout: no verdict before it), then anywhere between two heartbeats.
    await sleep(Math.max(0, started + RECOVERY_GRACE_MS - now()) + Math.random() * 1_000);
    const marks: { at: number; what: string }[] = [];
    const off = m.subscribeEvents((e) => {
      if ((e.type === 'node.status' && e.subject === victimNode) || (e.type === 'task.state' && e.data['state'] !== 'stopped')) marks.push({ at: now(), what: `${e.type} ${e.subject.slice(0, 12)} ${JSON.stringify(e.data)}` });
    });
    const t0 = now();
    kill9(-victim.pid!);
    for (const t of tasks) kill9(-t.pid);
    await waitFor('every slot running on a live node', () => {
      const slots = new Set(running().filter((t) => t.node !== victimNode && m.listNodes().find((n) => n.id === t.node)?.status === 'ready').map((t) => t.slot));
      return slots.size === 3;
    }, 60_000, 10);
    const ms = now() - t0;
    off();
    if (process.env['BENCH_TRACE_FAILOVER'] === '1') console.error(marks.map((x) => `  +${Math.round(x.at - t0)} ms ${x.what}`).join('\n'));
    return ms;
  } finally {
    for (const w of workers) if (w.pid !== undefined) kill9(-w.pid);
    for (const p of await processesWith(marker)) {
      kill9(-p.pid);
      kill9(p.pid);
    }
    await manager?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Kill -9 of a worker with its tasks → its replicas running elsewhere: median over 3 rounds (1 below scale 0.5). */
export async function workerKilledBenchmark(scale = 1): Promise<WorkerKilled> {
  const rounds: number[] = [];
  for (let r = 0; r < (scale < 0.5 ? 1 : 3); r++) rounds.push(await workerKilledRound(r));
  return { name: 'worker killed → its 3 replicas running elsewhere', ms: median(rounds), rounds };
}

/** A manager in a child process: bench/fixtures/manager-listen. */
class ManagerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;

  constructor(dataDir: string, listen: string) {
    const script = fileURLToPath(new URL('./fixtures/manager-listen.js', import.meta.url));
    this.child = fork(script, [dataDir, TOKEN, listen], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  ready(): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.child.once('message', (m: { type: string; url: string }) => (m.type === 'ready' ? resolve(m.url) : reject(new Error(`unexpected ${m.type}`))));
      this.child.once('exit', (code) => reject(new Error(`manager child exited (${code}) before it was ready`)));
    });
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Every event of the manager's log (through its API). */
async function allEvents(url: string): Promise<{ seq: number; type: string; data: Record<string, unknown> }[]> {
  const out: { seq: number; type: string; data: Record<string, unknown> }[] = [];
  for (;;) {
    const res = await fetch(`${url}/v1/events?since=${out.at(-1)?.seq ?? 0}&limit=10000`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const page = (await res.json()) as typeof out;
    out.push(...page);
    if (page.length < 10_000) return out;
  }
}

/** The false-down measurement. */
export interface FalseDowns {
  name: string;
  downs: number;
  suspects: number;
  workers: number;
  windowMs: number;
  burners: number;
  /** Links that closed during the window. */
  linkDrops: number;
}

/** 50 healthy simulated workers while the manager's CPUs are saturated by other processes: `down` verdicts over the window. */
export async function falseDownBenchmark(scale = 1): Promise<FalseDowns> {
  const workers = 50;
  const windowMs = Math.max(5_000, Math.round(60_000 * scale));
  const dir = await mkdtemp(join(tmpdir(), 'goat-bench-cpu-'));
  const manager = new ManagerProcess(dir, '127.0.0.1:0');
  const burners: ChildProcess[] = [];
  let fleet: ReturnType<typeof simFleet> | undefined;
  try {
    const url = await manager.ready();
    fleet = simFleet({ url, token: TOKEN, count: workers, prefix: 'cpu' });
    await fleet.connected();
    await waitFor('workers ready', async () => {
      const res = await fetch(`${url}/v1/nodes`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return ((await res.json()) as { status: string }[]).filter((n) => n.status === 'ready').length === workers;
    }, 30_000, 100);
    // Past the recovery grace of a fresh start, so a verdict could be given.
    await sleep(RECOVERY_GRACE_MS);
    const before = (await allEvents(url)).at(-1)?.seq ?? 0;
    for (let i = 0; i < cpus().length; i++) burners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    await sleep(windowMs);
    for (const b of burners) b.kill('SIGKILL');
    await sleep(500);
    const events = (await allEvents(url)).filter((e) => e.seq > before && e.type === 'node.status');
    return {
      name: `false down verdicts: ${workers} sim workers, ${Math.round(windowMs / 1000)} s, CPUs saturated`,
      downs: events.filter((e) => e.data['status'] === 'down').length,
      suspects: events.filter((e) => e.data['status'] === 'suspect').length,
      workers, windowMs, burners: burners.length, linkDrops: fleet.disconnects.length,
    };
  } finally {
    for (const b of burners) b.kill('SIGKILL');
    await fleet?.stop();
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The link-storm measurement. */
export interface LinkStorm {
  name: string;
  workers: number;
  /** Most connection attempts that began in one 100 ms window, from the kill until all were back. */
  peakPer100Ms: number;
  /** All attempts from the kill until all were back. */
  attempts: number;
  /** From the new manager listening until every worker was welcomed again, ms. */
  backAfterReadyMs: number;
  /** From the kill until every worker was welcomed again, ms. */
  backAfterKillMs: number;
  /** From the kill until the new manager listened, ms. */
  downMs: number;
}

/** 500 simulated workers (default reconnect backoff) reconnecting after the manager is killed and started again. */
export async function linkStormBenchmark(): Promise<LinkStorm> {
  const count = 500;
  const dir = await mkdtemp(join(tmpdir(), 'goat-bench-storm-'));
  let manager = new ManagerProcess(dir, '127.0.0.1:0');
  const attempts: number[] = [];
  const links: LinkClient[] = [];
  try {
    const url = await manager.ready();
    const port = new URL(url).port;
    for (let i = 0; i < count; i++) {
      const nodeId = `storm-${String(i).padStart(5, '0')}`;
      const link = new LinkClient({
        urls: [url],
        token: TOKEN,
        hello: () => ({ nodeId, name: nodeId, runtime: 'docker', labels: {}, capacity: { cpus: 8, memoryMb: 16_384, diskFreeMb: 100_000 }, tasks: [] }),
        onAssign: async () => ({ applied: false }),
        onStop: async () => ({ applied: false }),
      });
      // Each retry begins `retryInMs` after the failure that schedules it.
      link.on('disconnected', (d) => {
        if (d.retryInMs !== null) attempts.push(now() + d.retryInMs);
      });
      links.push(link);
    }
    for (const l of links) l.start();
    await waitFor('all linked', () => links.every((l) => l.status === 'connected'), 60_000);
    await sleep(1_500); // a few heartbeats
    attempts.length = 0;
    const t0 = now();
    await manager.kill();
    manager = new ManagerProcess(dir, `127.0.0.1:${port}`);
    await manager.ready();
    const tReady = now();
    await waitFor('all linked again', () => links.every((l) => l.status === 'connected'), 120_000, 10);
    const tBack = now();
    const inStorm = attempts.filter((a) => a >= t0 && a <= tBack);
    // Sliding 100 ms windows: the most attempts within 100 ms of one another.
    const sorted = [...inStorm].sort((a, b) => a - b);
    let peak = 0;
    for (let i = 0, j = 0; i < sorted.length; i++) {
      while (sorted[i]! - sorted[j]! >= 100) j++;
      peak = Math.max(peak, i - j + 1);
    }
    return {
      name: `link storm: ${count} sim workers after a manager kill -9 + restart`,
      workers: count, peakPer100Ms: peak, attempts: inStorm.length,
      backAfterReadyMs: tBack - tReady, backAfterKillMs: tBack - t0, downMs: tReady - t0,
    };
  } finally {
    await Promise.all(links.map((l) => l.stop()));
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** All three, in order. */
export async function failureBenchmarks(scale = 1): Promise<{ killed: WorkerKilled; falseDowns: FalseDowns; storm: LinkStorm }> {
  const killed = await workerKilledBenchmark(scale);
  const falseDowns = await falseDownBenchmark(scale);
  const storm = await linkStormBenchmark();
  return { killed, falseDowns, storm };
}
