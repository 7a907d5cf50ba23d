/**
 * Logs benchmarks (issue 14), on real processes: a `manager`, a `worker
 * --runtime docker` and a `worker --runtime process` on loopback, each running
 * goat/faulty's printer as fast as it can (`--print 0`).
 *
 * - Follow rate: lines per second that `goat-cluster logs TASK --follow`
 *   delivers, against `docker logs -f` of the same container (Docker
 *   runtime; target ≥ 0.8×) and against `tail -f` of the same file (process
 *   runtime; reported). The readers take turns (`rounds` each, alternating,
 *   medians), each for `windowMs` after its first line; only stdout's
 *   `line N` lines are counted, for all readers alike.
 * - Memory: the manager's and the Docker worker's RSS while 10 clients
 *   follow the fast task and one client reads nothing (an HTTP follow whose
 *   response is paused); sampled every 250 ms. Bounded: the stalled reader
 *   may cost at most the link credit and the worker's buffer.
 *
 * Everything it starts is stopped at the end (services, task processes,
 * containers, the processes).
 */
import Dockerode from 'dockerode';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../lib/package-root.js';

const ROOT = packageRoot(import.meta.url);
const CLI = join(ROOT, 'dist', 'lib', 'cli', 'main.js');
const FAULTY = join(ROOT, 'images', 'faulty', 'server.js');

/** A follow-rate comparison: lines per second, medians of the rounds. */
export interface FollowRate {
  name: string;
  baselineName: string;
  candidateName: string;
  baselineLps: number;
  candidateLps: number;
  baselineRounds: number[];
  candidateRounds: number[];
  /** Lines Goat's reader was told were dropped (the reader did not keep up), over all its rounds. */
  dropped: number;
}

/** RSS of one process over the memory run, bytes. */
export interface RssTrace { before: number; peak: number; end: number }

/** The memory run. */
export interface FollowMemory {
  name: string;
  manager: RssTrace;
  worker: RssTrace;
  followers: number;
  /** Lines per second each follower got, on average. */
  followerLps: number;
  windowMs: number;
}

/** Everything {@link logsBenchmarks} measured, with the load average before and after. */
export interface LogsBenchmarks {
  docker?: FollowRate;
  process: FollowRate;
  memory: FollowMemory;
  loadBefore: number[];
  loadAfter: number[];
  /** Why the Docker part did not run, if it did not. */
  dockerSkipped?: string;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`logs bench: timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** VmRSS of a process, bytes (0 when it is gone). */
async function rss(pid: number): Promise<number> {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs `file args` for `windowMs` after its first output and counts the
 * stdout lines that contain `line ` (and `[goat] N line(s) dropped` notices).
 */
function countLines(file: string, args: string[], windowMs: number, env: NodeJS.ProcessEnv): Promise<{ lps: number; dropped: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    let lines = 0;
    let dropped = 0;
    let rest = '';
    let started = 0;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => finish(new Error(`${file} ${args.join(' ')}: no output within 30 s`)), 30_000);
    const finish = (err?: Error): void => {
      clearTimeout(giveUp);
      if (timer) clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      if (err) reject(err);
      else resolve({ lps: (lines * 1000) / windowMs, dropped });
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (started === 0) {
        started = performance.now();
        timer = setTimeout(() => finish(), windowMs);
        return; // the window starts after the first chunk
      }
      const text = rest + chunk;
      const cut = text.lastIndexOf('\n');
      rest = text.slice(cut + 1);
      for (const l of text.slice(0, cut).split('\n')) {
        if (l.includes('line ')) lines++;
        else if (l.startsWith('[goat] ')) dropped += Number(/(\d+) line/.exec(l)?.[1] ?? 0);
      }
    });
    child.once('error', (e) => finish(e));
  });
}

/** A cluster of real processes for the benchmark. */
class BenchCluster {
  readonly procs: ChildProcess[] = [];
  url = '';
  constructor(readonly dir: string, readonly token: string, readonly cluster: string) {}

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GOAT_') || k === 'GOAT_TEST_RUN'));
    return { ...env, GOAT_CLUSTER: this.cluster, ...extra };
  }

  start(args: string[]): ChildProcess {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: this.dir, env: this.env(), stdio: 'ignore', detached: true });
    this.procs.push(child);
    return child;
  }

  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method, headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async runningTask(service: string): Promise<{ id: string; generation: number }> {
    return until(`${service} running`, async () => (await this.api<{ id: string; generation: number; state: string; desired: string }[]>('GET', `/v1/tasks?service=${service}`))
      .find((t) => t.state === 'running' && t.desired === 'running'));
  }

  /** Stops the services, waits for their tasks to stop, then kills every process. */
  async stop(services: string[], processTasksDir: string): Promise<void> {
    for (const s of services) await this.api('DELETE', `/v1/services/${s}`).catch(() => undefined);
    await until('tasks stopped', async () => (await this.api<{ state: string }[]>('GET', '/v1/tasks')).every((t) => !['running', 'starting', 'stopping'].includes(t.state)), 20_000).catch(() => undefined);
    for (const p of this.procs) {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
    // Task processes outlive their worker: kill any printer still running.
    for (const dir of await readdir(processTasksDir).catch(() => [] as string[])) {
      try {
        const { pid } = JSON.parse(await readFile(join(processTasksDir, dir, 'process.json'), 'utf8')) as { pid: number };
        if ((await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(FAULTY)) process.kill(-pid, 'SIGKILL');
      } catch {
        // gone, or not a task folder
      }
    }
  }
}

/** Runs the logs benchmarks; `dockerOk` says whether the Docker part can run. */
export async function logsBenchmarks(scale: number, dockerOk: boolean): Promise<LogsBenchmarks> {
  const loadBefore = loadavg();
  const rounds = Math.max(1, Math.round(3 * Math.min(1, scale * 2)));
  const windowMs = Math.max(1_000, Math.round(3_000 * Math.min(1, scale * 2)));
  const dir = await mkdtemp(join(tmpdir(), 'goat-bench-logs-'));
  const c = new BenchCluster(dir, `bench-logs-${process.pid}-${Date.now().toString(36)}`, `goat-bench-logs-${process.pid}`);
  const docker = new Dockerode();
  const services: string[] = [];
  try {
    await writeFile(join(dir, 'cluster.config.mjs'), 'export default {};\n');
    const port = await freePort();
    c.url = `http://127.0.0.1:${port}`;
    const manager = c.start(['manager', '--data-dir', join(dir, 'm'), '--listen', `127.0.0.1:${port}`, '--token', c.token]);
    await until('the manager', async () => (await fetch(`${c.url}/readyz`)).status === 200);
    const join_ = ['--join', `ws://127.0.0.1:${port}`, '--token', c.token];
    c.start(['worker', ...join_, '--data-dir', join(dir, 'p1'), '--name', 'p1', '--runtime', 'process']);
    const dockerWorker = dockerOk ? c.start(['worker', ...join_, '--data-dir', join(dir, 'd1'), '--name', 'd1', '--runtime', 'docker']) : undefined;
    const want = dockerOk ? 2 : 1;
    await until('the workers', async () => (await c.api<{ status: string }[]>('GET', '/v1/nodes')).filter((n) => n.status === 'ready').length === want);
    if (dockerOk) {
      const builder = (await import(pathToFileURL(join(ROOT, 'images', 'build.mjs')).href)) as { buildImages(o: { docker: Dockerode; apps: string[]; log?: (l: string) => void }): Promise<unknown> };
      await builder.buildImages({ docker, apps: ['faulty'], log: () => undefined });
    }

    const cliArgs = (task: string): string[] => [CLI, 'logs', task, '--follow', '--tail', '0', '--manager', c.url, '--token', c.token];
    const rate = async (name: string, baseline: [string, string, string[]], candidateTask: string): Promise<FollowRate> => {
      const b: number[] = [];
      const g: number[] = [];
      let dropped = 0;
      for (let i = 0; i < rounds; i++) {
        b.push((await countLines(baseline[1], baseline[2], windowMs, c.env())).lps);
        const r = await countLines(process.execPath, cliArgs(candidateTask), windowMs, c.env());
        g.push(r.lps);
        dropped += r.dropped;
      }
      return { name, baselineName: baseline[0], candidateName: 'goat-cluster logs --follow', baselineLps: median(b), candidateLps: median(g), baselineRounds: b, candidateRounds: g, dropped };
    };

    // Process runtime: against tail -f of the task's own stdout.log.
    services.push('fastp');
    await c.api('PUT', '/v1/services/fastp', { name: 'fastp', replicas: 1, task: { command: ['node', FAULTY, '--print', '0'], env: { PORT: '0' } } });
    const pt = await c.runningTask('fastp');
    const file = join(dir, 'p1', 'tasks', `${pt.id}-g${pt.generation}`, 'stdout.log');
    const processRate = await rate('logs --follow, a task printing as fast as it can (process runtime)', ['tail -f', 'tail', ['-n', '0', '-F', file]], pt.id);
    await c.api('DELETE', '/v1/services/fastp');

    let dockerRate: FollowRate | undefined;
    let memory: FollowMemory;
    if (dockerOk && dockerWorker) {
      services.push('fastd');
      await c.api('PUT', '/v1/services/fastd', { name: 'fastd', replicas: 1, task: { image: 'goat/faulty', command: ['--print', '0'], env: { PORT: '7777' } } });
      const dt = await c.runningTask('fastd');
      dockerRate = await rate('logs --follow, a task printing as fast as it can (Docker runtime)', ['docker logs -f', 'docker', ['logs', '-f', '--tail', '0', `goat-${dt.id}-g${dt.generation}`]], dt.id);
      memory = await followMemory(c, dt.id, manager.pid!, dockerWorker.pid!, Math.max(5_000, Math.round(15_000 * Math.min(1, scale * 2))));
    } else {
      services.push('fastm');
      await c.api('PUT', '/v1/services/fastm', { name: 'fastm', replicas: 1, task: { command: ['node', FAULTY, '--print', '0'], env: { PORT: '0' } } });
      const mt = await c.runningTask('fastm');
      const worker = c.procs[1]!;
      memory = await followMemory(c, mt.id, manager.pid!, worker.pid!, Math.max(5_000, Math.round(15_000 * Math.min(1, scale * 2))));
    }
    return {
      ...(dockerRate ? { docker: dockerRate } : {}), process: processRate, memory, loadBefore, loadAfter: loadavg(),
      ...(dockerOk ? {} : { dockerSkipped: 'the Docker engine does not answer' }),
    };
  } finally {
    await c.stop(services, join(dir, 'p1', 'tasks'));
    const left = await docker.listContainers({ all: true, filters: { label: [`goat.cluster=${c.cluster}`] } }).catch(() => []);
    await Promise.all(left.map((x) => docker.getContainer(x.Id).remove({ force: true }).catch(() => undefined)));
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** 10 followers and one stalled reader of `task` for `windowMs`; RSS of the manager and the worker sampled every 250 ms. */
async function followMemory(c: BenchCluster, task: string, managerPid: number, workerPid: number, windowMs: number): Promise<FollowMemory> {
  const before = { manager: await rss(managerPid), worker: await rss(workerPid) };
  const peak = { ...before };
  const sampler = setInterval(() => {
    void rss(managerPid).then((v) => (peak.manager = Math.max(peak.manager, v)));
    void rss(workerPid).then((v) => (peak.worker = Math.max(peak.worker, v)));
  }, 250);
  // The stalled reader: an HTTP follow whose response is never read.
  const stalled = request(`${c.url}/v1/tasks/${encodeURIComponent(task)}/logs?follow=1&tail=0`, { headers: { authorization: `Bearer ${c.token}` } }, (res) => res.pause());
  stalled.on('error', () => undefined);
  stalled.end();
  const followers = Array.from({ length: 10 }, () => countLines(process.execPath, [CLI, 'logs', task, '--follow', '--tail', '0', '--manager', c.url, '--token', c.token], windowMs, c.env()));
  const results = await Promise.all(followers);
  clearInterval(sampler);
  const end = { manager: await rss(managerPid), worker: await rss(workerPid) };
  stalled.destroy();
  return {
    name: 'RSS while 10 clients follow a fast task and 1 reads nothing',
    manager: { before: before.manager, peak: Math.max(peak.manager, end.manager), end: end.manager },
    worker: { before: before.worker, peak: Math.max(peak.worker, end.worker), end: end.worker },
    followers: results.length,
    followerLps: results.reduce((s, r) => s + r.lps, 0) / results.length,
    windowMs,
  };
}

/** The rows and notes `npm run bench` prints for the logs benchmarks. */
export async function logsRows(scale: number, dockerOk: boolean, notes: string[]): Promise<{ name: string; baseline: string; candidate: string; ratio: number; target: string; ok: boolean }[]> {
  const r = await logsBenchmarks(scale, dockerOk);
  const lps = (n: number): string => `${Math.round(n).toLocaleString('en-US')} lines/s`;
  const mb = (n: number): string => `${Math.round(n / 1_048_576)} MB`;
  const rows = [];
  if (r.docker) {
    const ratio = r.docker.candidateLps / r.docker.baselineLps;
    rows.push({ name: r.docker.name, baseline: `${r.docker.baselineName} ${lps(r.docker.baselineLps)}`, candidate: lps(r.docker.candidateLps), ratio, target: '≥ 0.8× rate', ok: ratio >= 0.8 });
  } else notes.push(`logs benchmarks: the Docker part was skipped (${r.dockerSkipped ?? 'no engine'})`);
  const pr = r.process.candidateLps / r.process.baselineLps;
  rows.push({ name: r.process.name, baseline: `${r.process.baselineName} ${lps(r.process.baselineLps)}`, candidate: lps(r.process.candidateLps), ratio: pr, target: 'report', ok: true });
  const BOUND = 300 * 1_048_576;
  for (const [who, t] of [['manager', r.memory.manager], ['worker', r.memory.worker]] as const) {
    rows.push({ name: `${r.memory.name}: ${who}`, baseline: `${mb(t.before)} before`, candidate: `peak ${mb(t.peak)}, end ${mb(t.end)}`, ratio: t.peak / t.before, target: 'bounded (≤ 300 MB)', ok: t.peak <= BOUND });
  }
  const rounds = (f: FollowRate): string => `${f.baselineName} ${f.baselineRounds.map((x) => Math.round(x)).join('/')} vs goat ${f.candidateRounds.map((x) => Math.round(x)).join('/')} lines/s${f.dropped ? ` (goat's reader was told ${f.dropped.toLocaleString('en-US')} lines were dropped)` : ''}`;
  notes.push(`logs follow rounds: ${[r.docker, r.process].filter((f): f is FollowRate => f !== undefined).map(rounds).join('; ')}`);
  notes.push(`logs memory: ${r.memory.followers} followers got ${lps(r.memory.followerLps)} each over ${r.memory.windowMs / 1000} s (the worker's is the ${r.docker ? 'Docker' : 'process'} worker)`);
  notes.push(`logs load average: ${r.loadBefore.map((x) => x.toFixed(1)).join(' ')} before, ${r.loadAfter.map((x) => x.toFixed(1)).join(' ')} after`);
  return rows;
}

// `node dist/bench/logs.js`: the logs benchmarks alone.
if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const notes: string[] = [];
  const dockerOk = await new Dockerode().ping().then(() => true, () => false);
  const rows = await logsRows(Number(process.env['BENCH_SCALE'] ?? '1'), dockerOk, notes);
  for (const row of rows) console.log(`${row.name}\n  baseline ${row.baseline}\n  goat     ${row.candidate}\n  ratio    ${row.ratio.toFixed(2)}× (target ${row.target}: ${row.ok ? 'met' : 'MISSED'})`);
  for (const n of notes) console.log(n);
}
