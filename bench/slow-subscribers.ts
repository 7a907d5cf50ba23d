/**
 * Slow event subscribers (issue 11): a `goat-cluster manager` in a child
 * process; 1,000 SSE subscribers (`GET /v1/events`, raw sockets) that never
 * read; 10,000 events made through the API (PATCH a service's replicas
 * between 0 and 100, no worker: each call is ~100 task events). Measured:
 * the manager's peak RSS (VmRSS, sampled every 100 ms), and the p99 latency
 * of a normal client (`GET /v1/services`, one at a time) during the flood,
 * against the same flood with no subscribers (the quiet baseline), side by
 * side in the same run; the idle manager's p99 is printed too (the flood of
 * writes itself, 100 tasks per PATCH, dominates the latency). `scale` multiplies subscribers and events.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { now } from './measure.js';

const TOKEN = 'bench-token-slow-subscribers';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist', 'lib', 'cli', 'main.js');

/** What {@link slowSubscribersBenchmark} measured. */
export interface SlowSubscribersResult {
  name: string;
  subscribers: number;
  events: number;
  /** Manager RSS before the subscribers connected, and its peak during the flood, bytes. */
  rssBefore: number;
  rssPeak: number;
  /** p99 of the normal client's requests, ms: idle manager; the same events with no subscribers; with the stalled ones. */
  idleP99Ms: number;
  quietP99Ms: number;
  floodP99Ms: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? 0;
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

async function startManager(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'manager', '--data-dir', dir, '--listen', `127.0.0.1:${port}`, '--token', TOKEN], { stdio: 'ignore', cwd: dir });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) return child;
    if (Date.now() > deadline) throw new Error('the manager did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A normal client alone for `ms`: its latencies (ms). */
async function idle(base: string, ms: number): Promise<number[]> {
  const latencies: number[] = [];
  const end = now() + ms;
  while (now() < end) {
    const t0 = now();
    await (await api(base, 'GET', '/v1/services')).arrayBuffer();
    latencies.push(now() - t0);
    await new Promise((r) => setTimeout(r, 5));
  }
  return latencies;
}

/** Makes `events` events through the API while a normal client measures its latency; returns the latencies (ms). */
async function flood(base: string, service: string, events: number): Promise<number[]> {
  const latencies: number[] = [];
  let done = false;
  const client = (async () => {
    while (!done) {
      const t0 = now();
      await (await api(base, 'GET', '/v1/services')).arrayBuffer();
      latencies.push(now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  let made = 0;
  let replicas = 0;
  while (made < events) {
    replicas = replicas === 0 ? 100 : 0;
    await (await api(base, 'PATCH', `/v1/services/${service}`, { replicas })).arrayBuffer();
    made += 100; // ~100 task events per call (plus the service's own)
  }
  done = true;
  await client;
  return latencies;
}

/** The benchmark; see the file's header. */
export async function slowSubscribersBenchmark(scale: number): Promise<SlowSubscribersResult> {
  const subscribers = Math.max(10, Math.round(1_000 * scale));
  const events = Math.max(1_000, Math.round(10_000 * scale));
  const dir = await mkdtemp(join(tmpdir(), 'goat-bench-sse-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const manager = await startManager(dir, port);
  const sockets: Socket[] = [];
  try {
    for (const name of ['quiet', 'flood']) await (await api(base, 'PUT', `/v1/services/${name}`, { name, replicas: 0, task: { image: 'goat/none' } })).arrayBuffer();
    const idleLatencies = await idle(base, 3_000);
    // Quiet baseline: the same flood, nobody subscribed.
    const quiet = await flood(base, 'quiet', events);
    const rssBefore = await rss(manager.pid!);
    const head = `GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nAccept: text/event-stream\r\n\r\n`;
    for (let i = 0; i < subscribers; i++) {
      const s = await new Promise<Socket>((resolve, reject) => {
        const sock = connect(port, '127.0.0.1', () => {
          sock.write(head);
          resolve(sock);
        });
        sock.once('error', reject);
      });
      s.pause(); // never reads
      s.on('error', () => undefined);
      sockets.push(s);
    }
    // Each subscriber first gets the quiet flood's events as its replay (since defaults to 0), then the live flood.
    let peak = rssBefore;
    const sampler = setInterval(() => void rss(manager.pid!).then((r) => (peak = Math.max(peak, r)), () => undefined), 100);
    const loud = await flood(base, 'flood', events);
    await new Promise((r) => setTimeout(r, 2_000));
    clearInterval(sampler);
    peak = Math.max(peak, await rss(manager.pid!));
    return {
      name: `manager with ${subscribers.toLocaleString('en-US')} stalled SSE subscribers, ${events.toLocaleString('en-US')} events`,
      subscribers, events, rssBefore, rssPeak: peak, idleP99Ms: p99(idleLatencies), quietP99Ms: p99(quiet), floodP99Ms: p99(loud),
    };
  } finally {
    for (const s of sockets) s.destroy();
    manager.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

// `node dist/bench/slow-subscribers.js`: this benchmark alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await slowSubscribersBenchmark(Number(process.env['BENCH_SCALE'] ?? '1'));
  console.log(JSON.stringify({ ...r, rssBeforeMb: Math.round(r.rssBefore / 1_048_576), rssPeakMb: Math.round(r.rssPeak / 1_048_576), p99Ratio: r.floodP99Ms / r.quietP99Ms }, null, 2));
}
