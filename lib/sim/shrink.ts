/**
 * Shrinking: a failing run's schedule is cut to a shorter one that still
 * fails the same invariant — first everything after the violation, then
 * chunks of operations (halves, quarters, … single ones) as long as the
 * failure stays. Same seed, so the rest of the run is as before.
 */
import type { SimConfig, SimStep } from './config.js';
import { runSim, type RunOptions, type SimResult } from './run.js';

/** What shrinking found. */
export interface ShrinkResult {
  config: SimConfig;
  result: SimResult;
  /** Runs it took. */
  runs: number;
  /** Operations before and after. */
  from: number;
  to: number;
}

/** Shrinks a failing configuration; `budget` caps the runs. */
export async function shrink(cfg: SimConfig, failed: SimResult, options: RunOptions = {}, budget = 80): Promise<ShrinkResult> {
  const invariant = failed.violations[0]?.invariant;
  if (invariant === undefined) throw new Error('shrink: the run did not fail');
  let runs = 0;
  let best: { cfg: SimConfig; result: SimResult } = { cfg, result: failed };
  const attempt = async (schedule: SimStep[], chaosMs = best.cfg.chaosMs): Promise<boolean> => {
    if (runs >= budget) return false;
    runs++;
    const next: SimConfig = { ...best.cfg, schedule, chaosMs };
    const r = await runSim(next, { ...options, trace: false });
    if (r.violations[0]?.invariant !== invariant) return false;
    best = { cfg: next, result: r };
    return true;
  };
  // Everything after a safety violation cannot have caused it (a liveness one needs the whole chaos phase).
  const at = failed.violations[0]?.at ?? Number.POSITIVE_INFINITY;
  if (at < cfg.chaosMs) {
    const before = cfg.schedule.filter((s) => s.at <= at);
    if (before.length < cfg.schedule.length) await attempt(before, Math.min(cfg.chaosMs, Math.ceil(at) + 1_000));
  }
  for (let size = Math.max(1, Math.floor(best.cfg.schedule.length / 2)); size >= 1; size = Math.floor(size / 2)) {
    let i = 0;
    while (i < best.cfg.schedule.length && runs < budget) {
      const candidate = [...best.cfg.schedule.slice(0, i), ...best.cfg.schedule.slice(i + size)];
      if (!(await attempt(candidate))) i += size;
    }
    if (size === 1) break;
  }
  const final = await runSim(best.cfg, { ...options, trace: true });
  return { config: best.cfg, result: final, runs: runs + 1, from: cfg.schedule.length, to: best.cfg.schedule.length };
}
