#!/usr/bin/env node
/**
 * `npm run sim` — the deterministic simulation from the command line.
 *
 *   npm run sim -- --seeds 1000            seeds 1…1000 (with --start S: S…S+N-1)
 *   npm run sim -- --seed 42 --trace       one seed, replayed exactly, with its events
 *   npm run sim -- --replay failure.json   a shrunk schedule written by a failing run
 *
 * Options: --jobs N (processes, default 1), --chaos S and --settle S
 * (simulated seconds), --workers N, --bug NAME (a planted bug, lib/sim/planted.ts),
 * --no-shrink, --out DIR (where failures are written, default sim-failures),
 * --determinism K (run K seeds twice, compare trace hashes), --json.
 * Exit code 1 when a seed fails, the determinism check fails, or (with 200
 * seeds or more) some fault kind or recovery path never happened.
 */
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { configFor, FAULT_KINDS, type SimConfig, type SimOverrides } from './config.js';
import { RECOVERY_PATHS } from './observer.js';
import { PLANTED_BUGS, type PlantedBug } from './planted.js';
import { runSim, type SimResult } from './run.js';
import { shrink } from './shrink.js';

interface Summary {
  seed: number;
  ok: boolean;
  hash: string;
  simMs: number;
  realMs: number;
  steps: number;
  faults: Record<string, number>;
  paths: Record<string, number>;
  violation?: string;
}

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' }, seed: { type: 'string' }, start: { type: 'string' }, trace: { type: 'boolean' },
    jobs: { type: 'string' }, chaos: { type: 'string' }, settle: { type: 'string' }, workers: { type: 'string' },
    bug: { type: 'string', multiple: true }, 'no-shrink': { type: 'boolean' }, out: { type: 'string' },
    replay: { type: 'string' }, determinism: { type: 'string' }, json: { type: 'boolean' }, child: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

const HELP = `Usage: npm run sim -- [options]   (node dist/lib/sim/cli.js [options])

The deterministic simulation: a manager and N workers of real Goat code on a
simulated clock, network, engine and disk, under a seeded fault schedule.

  --seeds N           run seeds START…START+N-1 (default 100), print figures
  --start S           first seed of --seeds (default 1)
  --seed S            run one seed (its configuration is printed first)
  --replay FILE       replay a failure written by a failing run (sim-failures/seed-S.json)
  --trace             with --seed or --replay: print the run's events
  --jobs N            processes for --seeds (default 1)
  --chaos S           seconds of simulated chaos (default 420)
  --settle S          seconds of simulated heal and settle (default 180)
  --workers N         workers (default: 3 to 7, as the seed picks)
  --bug NAME          switch on a planted bug (${PLANTED_BUGS.join(', ')}); repeatable
  --determinism K     run the first K seeds twice, compare their trace hashes
  --no-shrink         write a failure as it is, without shrinking its schedule
  --out DIR           where failures are written (default sim-failures)
  --json              figures on one line
  -h, --help          this help

Exit code 1 when a seed fails, the determinism check fails, or (200 seeds or
more) some fault kind or recovery path never happened; 2 on bad options.
`;
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const overrides: SimOverrides = {
  ...(values.chaos ? { chaosMs: seconds(values.chaos, '--chaos') } : {}),
  ...(values.settle ? { settleMs: seconds(values.settle, '--settle') } : {}),
  ...(values.workers ? { workers: int(values.workers, '--workers', 1, 50) } : {}),
};
const bugs = (values.bug ?? []).map((b) => {
  if (!PLANTED_BUGS.includes(b as PlantedBug)) usage(`--bug: unknown planted bug '${b}' (known: ${PLANTED_BUGS.join(', ')})`);
  return b as PlantedBug;
});
const outDir = values.out ?? 'sim-failures';

function usage(message: string): never {
  process.stderr.write(`sim: ${message}\n`);
  process.exit(2);
}

function int(s: string, flag: string, min: number, max: number): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min || n > max) usage(`${flag} wants an integer from ${min} to ${max}, got '${s}'`);
  return n;
}

function seconds(s: string, flag: string): number {
  return int(s, flag, 1, 86_400) * 1_000;
}

function summary(r: SimResult): Summary {
  const v = r.violations[0];
  return {
    seed: r.seed, ok: r.ok, hash: r.hash, simMs: r.simMs, realMs: Math.round(r.realMs), steps: r.steps, faults: r.faults, paths: r.paths,
    ...(v ? { violation: `${v.invariant} at ${v.at} ms: ${v.detail}` } : {}),
  };
}

/** Shrinks a failure and writes it out: `<out>/seed-<S>.json` (replayable) and `.trace.txt`. */
async function report(cfg: SimConfig, r: SimResult): Promise<void> {
  const v = r.violations[0];
  process.stdout.write(`\nseed ${cfg.seed} FAILED: ${v?.invariant} at ${v?.at} ms — ${v?.detail}\n`);
  let final = { config: cfg, result: r };
  if (!values['no-shrink']) {
    const s = await shrink(cfg, r, { bugs });
    final = s;
    process.stdout.write(`shrunk in ${s.runs} runs: ${s.from} → ${s.to} scheduled operations\n`);
  }
  process.stdout.write(`minimal schedule (seed ${cfg.seed}${bugs.length ? `, bugs ${bugs.join(',')}` : ''}):\n`);
  for (const step of final.config.schedule) process.stdout.write(`  ${String(step.at).padStart(7)} ms  ${JSON.stringify(step.op)}\n`);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `seed-${cfg.seed}.json`);
  writeFileSync(file, `${JSON.stringify({ bugs, config: final.config, violations: final.result.violations }, null, 2)}\n`);
  writeFileSync(join(outDir, `seed-${cfg.seed}.trace.txt`), `${final.result.trace.join('\n')}\n`);
  process.stdout.write(`written: ${file} (replay: npm run sim -- --replay ${file} --trace)\n`);
}

async function child(spec: string): Promise<void> {
  const [start, count, step] = spec.split(':').map(Number) as [number, number, number];
  for (let s = start; s < start + count; s += step) {
    const r = await runSim(configFor(s, overrides), { bugs });
    process.send?.({ summary: summary(r) });
  }
}

async function main(): Promise<void> {
  if (values.child) return child(values.child);
  if (values.replay) {
    const saved = JSON.parse(readFileSync(values.replay, 'utf8')) as { bugs?: PlantedBug[]; config: SimConfig };
    const r = await runSim(saved.config, { bugs: saved.bugs ?? bugs, trace: values.trace === true });
    if (values.trace) process.stdout.write(`${r.trace.join('\n')}\n`);
    process.stdout.write(`${JSON.stringify(summary(r))}\n`);
    process.exitCode = r.ok ? 0 : 1;
    return;
  }
  if (values.seed !== undefined) {
    const cfg = configFor(int(values.seed, '--seed', 0, 2 ** 32 - 1), overrides);
    process.stdout.write(`seed ${cfg.seed}: ${cfg.workers} workers, chaos ${cfg.chaosMs / 1000} s, settle ${cfg.settleMs / 1000} s, ${cfg.schedule.length} scheduled operations, net ${JSON.stringify(cfg.net)}, engine ${JSON.stringify(cfg.runtime)}\n`);
    const r = await runSim(cfg, { bugs, trace: values.trace === true });
    if (values.trace) process.stdout.write(`${r.trace.join('\n')}\n`);
    process.stdout.write(`${JSON.stringify(summary(r))}\n`);
    if (!r.ok) await report(cfg, r);
    process.exitCode = r.ok ? 0 : 1;
    return;
  }
  const n = values.seeds ? int(values.seeds, '--seeds', 1, 10_000_000) : 100;
  const start = values.start ? int(values.start, '--start', 0, 2 ** 32 - 1) : 1;
  const jobs = values.jobs ? int(values.jobs, '--jobs', 1, 64) : 1;
  const began = performance.now();
  const results: Summary[] = [];
  const onSummary = (s: Summary): void => {
    results.push(s);
    if (!s.ok) process.stdout.write(`seed ${s.seed} FAILED: ${s.violation}\n`);
    else if (results.length % 100 === 0) process.stdout.write(`${results.length}/${n} seeds ok so far\n`);
  };
  if (jobs === 1) {
    for (let s = start; s < start + n; s++) onSummary(summary(await runSim(configFor(s, overrides), { bugs })));
  } else {
    const self = fileURLToPath(import.meta.url);
    const passOn = process.argv.slice(2).filter((a, i, all) => !['--jobs', '--seeds', '--start'].includes(a) && !['--jobs', '--seeds', '--start'].includes(all[i - 1] ?? ''));
    await Promise.all(Array.from({ length: jobs }, (_, j) => new Promise<void>((resolve, reject) => {
      const p = fork(self, [...passOn, '--child', `${start + j}:${n - j}:${jobs}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      p.on('message', (m: { summary: Summary }) => onSummary(m.summary));
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sim job ${j} exited with ${code}`))));
    })));
  }
  const realMs = performance.now() - began;
  const failed = results.filter((r) => !r.ok).sort((a, b) => a.seed - b.seed);
  const simMs = results.reduce((s, r) => s + r.simMs, 0);
  const faults = new Map<string, number>();
  const paths = new Map<string, number>();
  for (const r of results) {
    for (const [k, v] of Object.entries(r.faults)) faults.set(k, (faults.get(k) ?? 0) + v);
    for (const [k, v] of Object.entries(r.paths)) paths.set(k, (paths.get(k) ?? 0) + v);
  }
  let determinismOk = true;
  const k = values.determinism ? int(values.determinism, '--determinism', 0, n) : 0;
  for (const s of results.slice(0, k)) {
    const again = await runSim(configFor(s.seed, overrides), { bugs });
    if (again.hash !== s.hash) {
      determinismOk = false;
      process.stdout.write(`seed ${s.seed} NOT DETERMINISTIC: trace hash ${s.hash} then ${again.hash}\n`);
    }
  }
  const missing = [...FAULT_KINDS.filter((f) => !faults.get(f)), ...RECOVERY_PATHS.filter((p) => !paths.get(p))];
  const coverageOk = n < 200 || missing.length === 0;
  const figures = {
    seeds: results.length, failed: failed.length, jobs, realSeconds: +(realMs / 1000).toFixed(1),
    seedsPerMinute: +((results.length / realMs) * 60_000).toFixed(1),
    simulatedMinutes: +(simMs / 60_000).toFixed(1), simToReal: Math.round(simMs / realMs),
    determinism: k > 0 ? (determinismOk ? `${k} seeds replayed, same trace hashes` : 'FAILED') : 'not checked',
    faults: Object.fromEntries(faults), recoveryPaths: Object.fromEntries(paths),
    ...(missing.length ? { neverHappened: missing } : {}),
  };
  process.stdout.write(values.json ? `${JSON.stringify(figures)}\n` : `\n${JSON.stringify(figures, null, 2)}\n`);
  if (!coverageOk) process.stdout.write(`coverage: never happened in ${n} seeds: ${missing.join(', ')}\n`);
  for (const f of failed.slice(0, 3)) await report(configFor(f.seed, overrides), await runSim(configFor(f.seed, overrides), { bugs }));
  process.exitCode = failed.length === 0 && determinismOk && coverageOk ? 0 : 1;
}

await main();
