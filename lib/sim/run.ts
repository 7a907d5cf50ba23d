/**
 * One simulated run: build the cluster from the configuration, play the
 * schedule during the chaos phase (safety checked after every event), then
 * heal and settle, and check liveness. Same configuration, same run: the
 * trace hash says so.
 */
import type { SimConfig } from './config.js';
import { SimCluster, SimStoreFault } from './cluster.js';
import { installGuard, realSetImmediate } from './guard.js';
import { Observer, type RecoveryPath, type Violation } from './observer.js';
import { planted, resetPlanted, type PlantedBug } from './planted.js';
import { Prng } from './prng.js';
import { SimScheduler } from './scheduler.js';

/** What a run found. */
export interface SimResult {
  seed: number;
  ok: boolean;
  violations: Violation[];
  /** FNV-1a hash of the trace: equal for a replay. */
  hash: string;
  /** The trace, when asked for. */
  trace: string[];
  /** Events run. */
  steps: number;
  /** Simulated time, ms. */
  simMs: number;
  /** Real time, ms. */
  realMs: number;
  faults: Record<string, number>;
  paths: Partial<Record<RecoveryPath, number>>;
}

/** How to run. */
export interface RunOptions {
  /** Keep the trace lines (else only their hash). */
  trace?: boolean;
  /** Planted bugs to switch on for this run. */
  bugs?: PlantedBug[];
  /** Stop at the first violation (the shrinker's runs). @default true */
  stopAtFirst?: boolean;
}

/** Runs one configuration. Runs must not overlap (they replace globals). */
export async function runSim(cfg: SimConfig, options: RunOptions = {}): Promise<SimResult> {
  const started = performance.now();
  const rng = new Prng(cfg.seed);
  const sched = new SimScheduler(rng.fork('sched'), realSetImmediate);
  const obs = new Observer(cfg.downAfterMs, 2 * cfg.downAfterMs, () => sched.now, options.trace === true);
  const stopAtFirst = options.stopAtFirst ?? true;
  resetPlanted();
  for (const b of options.bugs ?? []) planted[b] = true;
  const unhandled: unknown[] = [];
  // A touch of the real world is a failure even when the code that touched it caught the error.
  const undo = installGuard(sched, (err) => unhandled.push(err), (what, where) => obs.fail('nothing-real', `${what} touched at ${sched.now} ms in ${sched.current.node}: ${where}`));
  let cluster: SimCluster | null = null;
  try {
    cluster = new SimCluster(sched, cfg, obs, rng.fork('cluster'));
    const c = cluster;
    const errorsSeen = { n: 0 };
    const onEvent = (ctx?: { node: string; inc: number }): void => {
      // Every event (its time, node and step) is in the determinism hash, not only the trace's lines.
      if (ctx) obs.fold(sched.now, ctx.node, ctx.inc, sched.steps);
      c.check();
      // An uncaught exception or unhandled rejection kills a Node process: an injected store fault's does (the
      // manager restarts); anything else is a bug of Goat's as well.
      while (errorsSeen.n < sched.errors.length) {
        const e = sched.errors[errorsSeen.n++];
        if (!e || !sched.node(e.node).up) continue;
        c.processCrashed(e.node, e.error);
        if (!(e.error instanceof SimStoreFault)) obs.fail('no-uncaught-errors', `${e.node}: ${e.error instanceof Error ? (e.error.stack ?? e.error.message).split('\n').slice(0, 3).join(' | ') : String(e.error)}`);
      }
      for (const err of unhandled.splice(0)) {
        if (err instanceof SimStoreFault) {
          if (sched.node('manager').up) c.processCrashed('manager', err);
          continue;
        }
        obs.fail('no-unhandled-rejections', err instanceof Error ? (err.stack ?? err.message).split('\n').slice(0, 3).join(' | ') : String(err));
      }
    };
    const halted = (): boolean => stopAtFirst && obs.violations.length > 0;
    c.boot();
    // Chaos: the schedule, in time order.
    for (const step of cfg.schedule) {
      if (halted()) break;
      await sched.runUntil(step.at, onEvent);
      if (halted()) break;
      c.apply(step.op);
      onEvent();
    }
    if (!halted()) await sched.runUntil(cfg.chaosMs, onEvent);
    // Heal and settle: liveness within the bound.
    if (!halted()) {
      c.heal();
      await sched.runUntil(cfg.chaosMs + cfg.settleMs, onEvent);
      if (!halted()) {
        c.checkAcked();
        c.checkSettled(cfg.chaosMs + cfg.settleMs / 2);
      }
    }
  } catch (err) {
    obs.fail('harness', err instanceof Error ? (err.stack ?? err.message).split('\n').slice(0, 4).join(' | ') : String(err));
  } finally {
    undo();
    resetPlanted();
    try {
      cluster?.close();
    } catch {
      // closed already
    }
  }
  return {
    seed: cfg.seed, ok: obs.violations.length === 0, violations: obs.violations, hash: obs.hash, trace: obs.trace,
    steps: sched.steps, simMs: sched.now, realMs: performance.now() - started,
    faults: Object.fromEntries([...(cluster?.faults ?? []), ...(cluster?.net.stats.dropped ? [['drop', cluster.net.stats.dropped] as const] : [])]), paths: Object.fromEntries(obs.paths),
  };
}
