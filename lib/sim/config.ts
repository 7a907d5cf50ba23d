/**
 * What a seed decides: the cluster's size, the network's and the engine's
 * behaviour, the clocks, and the schedule of workload operations and faults.
 * A schedule is plain data, so a failing one can be shrunk and written out.
 */
import type { NetProfile } from './network.js';
import { Prng } from './prng.js';
import type { RuntimeProfile } from './runtime.js';

/** A service's shape in the workload. */
export interface SimServiceSpec {
  replicas: number;
  /** Changing it is an update (a new generation per slot). */
  version: number;
  disconnect?: { stopAfterMs?: number; lostAfterMs?: number };
}

/** One scheduled operation: workload or fault. Faults with a duration undo themselves. */
export type SimOp =
  | { kind: 'put'; service: string; spec: SimServiceSpec }
  | { kind: 'scale'; service: string; replicas: number }
  | { kind: 'delete'; service: string }
  | { kind: 'killWorker'; node: string; downMs: number }
  | { kind: 'crashMachine'; node: string; downMs: number }
  | { kind: 'killManager'; downMs: number }
  | { kind: 'partition'; node: string; way: 'both' | 'toManager' | 'fromManager'; ms: number }
  | { kind: 'pause'; node: string; ms: number }
  | { kind: 'dockerLoss'; node: string; ms: number }
  | { kind: 'reset'; node: string }
  | { kind: 'storeFault'; mode: StoreFaultMode };

/**
 * A store fault: a write transaction fails (`error`), a group's COMMIT fails
 * (`commitError`: the group's writes are lost), or the manager crashes just
 * before or just after a group commits.
 */
export type StoreFaultMode = 'error' | 'commitError' | 'crashBefore' | 'crashAfter';

/** An operation at a time (ms from the start). */
export interface SimStep {
  at: number;
  op: SimOp;
}

/**
 * The fault kinds (coverage counts each): the scheduled ones, each store
 * fault mode and partition direction on its own, and frames lost (`drop`,
 * on hostile seeds).
 */
export const FAULT_KINDS = [
  'killWorker', 'crashMachine', 'killManager', 'partition', 'pause', 'dockerLoss', 'reset', 'storeFault',
  'storeFault:error', 'storeFault:commitError', 'storeFault:crashBefore', 'storeFault:crashAfter',
  'partition:both', 'partition:toManager', 'partition:fromManager', 'drop',
] as const;

/** Everything a run needs; a function of the seed (and the schedule, once shrunk). */
export interface SimConfig {
  seed: number;
  workers: number;
  heartbeatMs: number;
  downAfterMs: number;
  /** Length of the chaos phase, ms. */
  chaosMs: number;
  /** Length of heal-and-settle, ms: the liveness bound. */
  settleMs: number;
  net: NetProfile;
  runtime: RuntimeProfile;
  clocks: { rate: number; offset: number }[];
  /**
   * Timers fire up to this many ms before their time against the node's
   * `Date.now()`, as Node's do (a timer counts from the event loop's cached
   * time, behind by however long the callback that set it had run); 0: on
   * time. Absent (older replays): 0.
   */
  earlyTimersMs?: number;
  schedule: SimStep[];
}

/** What CI runs: 1,000 seeds of one simulated minute of chaos and 90 s of heal and settle each. */
export const CI_BUDGET = { seeds: 1_000, chaosMs: 60_000, settleMs: 90_000 } as const;

/** Options that override what the seed picks. */
export interface SimOverrides {
  workers?: number;
  chaosMs?: number;
  settleMs?: number;
  /** Operations per simulated minute (workload and faults together). @default 12 */
  opsPerMinute?: number;
}

/** The configuration seed `seed` picks. */
export function configFor(seed: number, o: SimOverrides = {}): SimConfig {
  const rng = new Prng(seed).fork('config');
  const workers = o.workers ?? rng.int(3, 7);
  const chaosMs = o.chaosMs ?? 7 * 60_000;
  const settleMs = o.settleMs ?? 3 * 60_000;
  const hostile = rng.chance(0.2);
  const net: NetProfile = {
    latencyMs: [1, rng.int(2, 60)],
    dup: hostile ? rng.pick([0.001, 0.01]) : 0,
    reorder: hostile && rng.chance(0.5),
    reset: rng.chance(0.3) ? rng.pick([0.0005, 0.002]) : 0,
    ...(hostile ? { drop: rng.pick([0.005, 0.02]) } : {}),
  };
  const runtime: RuntimeProfile = {
    startMs: [5, rng.int(20, 3_000)],
    refuse: rng.pick([0, 0, 0.02, 0.1]),
    failStart: rng.pick([0, 0, 0.02, 0.1]),
    crash: rng.pick([0, 0.05, 0.2]),
    crashWithinMs: rng.int(5_000, 120_000),
  };
  const clocks = Array.from({ length: workers + 1 }, () => ({ rate: 1 + (rng.next() - 0.5) * 0.04, offset: rng.int(-3_600_000, 3_600_000) }));
  const nodes = Array.from({ length: workers }, (_, i) => `w${i + 1}`);
  const schedule = scheduleFor(rng.fork('schedule'), nodes, chaosMs, o.opsPerMinute ?? 12);
  // From a stream of its own, so that everything else a seed picks stays as it was before timers could fire early.
  const earlyTimersMs = new Prng(seed).fork('timers').pick([0, 0, 2, 5]);
  return { seed, workers, heartbeatMs: 1_000, downAfterMs: 4_000, chaosMs, settleMs, net, runtime, clocks, earlyTimersMs, schedule };
}

function scheduleFor(rng: Prng, nodes: string[], chaosMs: number, perMinute: number): SimStep[] {
  const steps: SimStep[] = [];
  const services = ['web', 'api', 'db', 'cache'];
  const versions = new Map<string, number>();
  // The workload starts with two services, so every run has something to keep running.
  for (const [i, name] of services.slice(0, 2).entries()) {
    versions.set(name, 1);
    steps.push({ at: 500 + i * 100, op: { kind: 'put', service: name, spec: { replicas: rng.int(1, 4), version: 1, ...disconnectFor(rng) } } });
  }
  const count = Math.round((chaosMs / 60_000) * perMinute);
  const faultShare = 0.3 + rng.next() * 0.5;
  for (let i = 0; i < count; i++) {
    const at = rng.int(2_000, chaosMs - 1_000);
    const node = rng.pick(nodes);
    let op: SimOp;
    if (rng.chance(faultShare)) {
      const kind = rng.pick(['killWorker', 'killWorker', 'crashMachine', 'killManager', 'partition', 'partition', 'pause', 'dockerLoss', 'reset', 'storeFault'] as const);
      switch (kind) {
        case 'killWorker':
        case 'crashMachine':
          op = { kind, node, downMs: rng.int(100, 60_000) };
          break;
        case 'killManager':
          op = { kind, downMs: rng.int(100, 90_000) };
          break;
        case 'partition':
          op = { kind, node, way: rng.pick(['both', 'both', 'toManager', 'fromManager'] as const), ms: rng.int(500, 60_000) };
          break;
        case 'pause':
          op = { kind, node: rng.chance(0.25) ? 'manager' : node, ms: rng.int(100, 12_000) };
          break;
        case 'dockerLoss':
          op = { kind, node, ms: rng.int(500, 30_000) };
          break;
        case 'reset':
          op = { kind, node };
          break;
        case 'storeFault':
          op = { kind, mode: rng.pick(['error', 'commitError', 'crashBefore', 'crashAfter'] as const) };
          break;
      }
    } else {
      const service = rng.pick(services);
      const v = versions.get(service);
      const r = rng.next();
      if (v === undefined || r < 0.15) {
        const version = (v ?? 0) + 1;
        versions.set(service, version);
        op = { kind: 'put', service, spec: { replicas: rng.int(0, 5), version, ...disconnectFor(rng) } };
      } else if (r < 0.6) {
        op = { kind: 'scale', service, replicas: rng.int(0, 6) };
      } else if (r < 0.85) {
        versions.set(service, v + 1);
        op = { kind: 'put', service, spec: { replicas: rng.int(1, 5), version: v + 1, ...disconnectFor(rng) } };
      } else {
        versions.delete(service);
        op = { kind: 'delete', service };
      }
    }
    steps.push({ at, op });
  }
  return steps.sort((a, b) => a.at - b.at);
}

function disconnectFor(rng: Prng): Pick<SimServiceSpec, 'disconnect'> {
  const r = rng.next();
  if (r < 0.25) return { disconnect: { stopAfterMs: rng.int(1_000, 8_000) } };
  if (r < 0.4) return { disconnect: { lostAfterMs: rng.int(1_000, 20_000) } };
  return {};
}
