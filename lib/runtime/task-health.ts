/**
 * Task health checks (http, tcp, exec inside the task) run by the worker against a running
 * task: a probe every `intervalMs` after `startPeriodMs`; `retries` failures
 * in a row make the task unhealthy, which its actor treats as a crash.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { HealthSpec } from '../model/index.js';
import type { ExecResult } from './types.js';
import { systemClock, type Clock, type TimerId } from '../supervision/index.js';

/** One probe's verdict. */
export interface ProbeResult { ok: boolean; detail: string }

/** Where a probe reaches the task: its node address, its ports on the node, and a way to run a command inside it. */
export interface ProbeTarget {
  host: string;
  portOf(taskPort: number): number;
  exec(argv: string[], timeoutMs: number): Promise<ExecResult>;
}

/** Runs one probe of `spec` against `target`. */
export function probeOnce(spec: HealthSpec, target: ProbeTarget): Promise<ProbeResult> {
  if (spec.http) return probeHttp(target.host, target.portOf(spec.http.port), spec.http.path, spec.timeoutMs);
  if (spec.tcp) return probeTcp(target.host, target.portOf(spec.tcp.port), spec.timeoutMs);
  if (spec.exec) return probeExec(target, spec.exec, spec.timeoutMs);
  return Promise.resolve({ ok: true, detail: 'no probe' });
}

function probeHttp(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve({ ok: code >= 200 && code < 400, detail: `GET ${path} → ${code}` });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, detail: `GET ${path}: ${err.message}` }));
    req.end();
  });
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ ok: true, detail: `tcp ${port} open` });
    });
    socket.once('timeout', () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.once('error', (err) => resolve({ ok: false, detail: `tcp ${port}: ${err.message}` }));
  });
}

async function probeExec(target: ProbeTarget, argv: string[], timeoutMs: number): Promise<ProbeResult> {
  const r = await target.exec(argv, timeoutMs);
  const what = `${argv.join(' ')} ${r.code === null ? 'did not finish' : `exited ${r.code}`}`;
  return r.code === 0 ? { ok: true, detail: what } : { ok: false, detail: `${what}${r.output ? `: ${r.output.trim().slice(-200)}` : ''}` };
}

/**
 * Probes a task periodically: calls `onHealthy` once, when a probe first
 * passes (the rollout's monitor counts from then), and `onUnhealthy` once,
 * when `retries` probes in a row failed.
 */
export class HealthChecker {
  #timer: TimerId | null = null;
  #failures = 0;
  #stopped = false;
  #healthy = false;

  constructor(
    private readonly spec: HealthSpec,
    private readonly probe: () => Promise<ProbeResult>,
    private readonly onUnhealthy: (detail: string) => void,
    private readonly clock: Clock = systemClock,
    private readonly onHealthy: (detail: string) => void = () => undefined,
  ) {}

  /** Starts probing after the start period. */
  start(): void {
    this.#schedule(this.spec.startPeriodMs + this.spec.intervalMs);
  }

  /** Stops probing. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.clock.setTimeout(() => void this.#tick(), ms);
  }

  async #tick(): Promise<void> {
    const result = await this.probe();
    if (this.#stopped) return;
    this.#failures = result.ok ? 0 : this.#failures + 1;
    if (result.ok && !this.#healthy) {
      this.#healthy = true;
      this.onHealthy(result.detail);
    }
    if (this.#failures >= this.spec.retries) {
      this.#stopped = true;
      this.onUnhealthy(`${this.#failures} health checks failed in a row; last: ${result.detail}`);
      return;
    }
    this.#schedule(this.spec.intervalMs);
  }
}
