/**
 * `npm run bench`: every benchmark, each printed as a ratio against a
 * baseline measured side by side in the same run. `BENCH_SCALE=0.1` for a
 * quick run. Targets come from the issues; the table says whether each is met.
 */
import { clusterMemoryBenchmark, clusterThroughputBenchmark } from './cluster.js';
import { placementBenchmarks } from './placement.js';
import { supervisionBenchmarks } from './supervision.js';
import { dockerEngineProblem, workerBenchmarks } from './worker.js';

interface Row { name: string; baseline: string; candidate: string; ratio: number; target: string; ok: boolean }

const scale = Number(process.env['BENCH_SCALE'] ?? '1');
const rows: Row[] = [];

const [restart, throughput] = await supervisionBenchmarks(scale);
if (restart && throughput) {
  const slow = restart.candidateUs / restart.baselineUs;
  rows.push({ name: restart.name, baseline: `${restart.baselineName} ${restart.baselineUs.toFixed(1)} µs`, candidate: `${restart.candidateName} ${restart.candidateUs.toFixed(1)} µs`, ratio: slow, target: '≤ 1.5× time', ok: slow <= 1.5 });
  const speed = throughput.baselineUs / throughput.candidateUs;
  const rate = (us: number): string => `${Math.round(1e6 / us).toLocaleString('en-US')} msg/s`;
  rows.push({ name: throughput.name, baseline: `${throughput.baselineName} ${rate(throughput.baselineUs)}`, candidate: `${throughput.candidateName} ${rate(throughput.candidateUs)}`, ratio: speed, target: '≥ 0.8× rate', ok: speed >= 0.8 });
}

const notes: string[] = [];
const engineProblem = await dockerEngineProblem();
if (engineProblem === undefined) {
  const ms = (us: number): string => `${(us / 1000).toFixed(1)} ms`;
  for (const c of await workerBenchmarks(scale)) {
    const slow = c.candidateUs / c.baselineUs;
    rows.push({ name: c.name, baseline: `${c.baselineName} ${ms(c.baselineUs)}`, candidate: `${c.candidateName} ${ms(c.candidateUs)}`, ratio: slow, target: '≤ 1.2× time', ok: slow <= 1.2 });
  }
} else {
  notes.push(`docker benchmarks skipped: the Docker engine does not answer (${engineProblem}); start dockerd to run them`);
}

// Placement has no baseline to run beside it: the ratio is against the target of 20,000 placements/s.
const PLACEMENT_TARGET = 20_000;
for (const p of placementBenchmarks(scale)) {
  const ratio = p.placementsPerSec / PLACEMENT_TARGET;
  const atTarget = p.nodes === 1_000;
  rows.push({
    name: p.name,
    baseline: 'published: Nomad C1M 3,750/s; k8s < 400 pods/s',
    candidate: `${Math.round(p.placementsPerSec).toLocaleString('en-US')} placements/s`,
    ratio,
    target: atTarget ? '≥ 20,000 placements/s' : 'report',
    ok: atTarget ? ratio >= 1 : true,
  });
}

// The manager end to end: no baseline runs beside it either; the ratios are against the targets.
const E2E_TARGET = 2_000;
const e2e = await clusterThroughputBenchmark(scale);
rows.push({
  name: e2e.name, baseline: 'target 2,000/s', candidate: `${Math.round(e2e.tasksPerSec).toLocaleString('en-US')} tasks/s`,
  ratio: e2e.tasksPerSec / E2E_TARGET, target: '≥ 2,000 tasks/s', ok: e2e.tasksPerSec >= E2E_TARGET,
});
const RSS_TARGET_MB = 300;
const mem = await clusterMemoryBenchmark(scale);
const rssMb = Math.max(mem.rssAtRunning, mem.rssSettled) / 1_048_576;
rows.push({
  name: mem.name, baseline: 'target 300 MB', candidate: `${rssMb.toFixed(0)} MB RSS`,
  ratio: rssMb / RSS_TARGET_MB, target: '≤ 300 MB', ok: rssMb <= RSS_TARGET_MB && mem.linkDrops === null,
});
if (mem.linkDrops !== null) notes.push(`manager memory: MISSED as the workers did not all stay linked: ${mem.linkDrops}`);
notes.push(`end to end rounds: ${e2e.rounds.map((r) => Math.round(r).toLocaleString('en-US')).join(', ')} tasks/s (median shown)`);
notes.push(`manager memory: ${(mem.rssAtRunning / 1_048_576).toFixed(0)} MB RSS when all ${mem.tasks.toLocaleString('en-US')} ran (${(mem.runningAfterMs / 1000).toFixed(1)} s after the first submit), ${(mem.rssSettled / 1_048_576).toFixed(0)} MB after ${mem.settleMs / 1000} s more of heartbeats (heap ${(mem.heapUsedSettled / 1_048_576).toFixed(0)} MB); longest manager event-loop stall ${Math.round(mem.lagMaxMs)} ms`);

const table = rows.map((r) => [r.name, r.baseline, r.candidate, `${r.ratio.toFixed(2)}×`, r.target, r.ok ? 'met' : 'MISSED']);
const header = ['benchmark', 'baseline', 'goat', 'ratio', 'target', ''];
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} cpus, scale ${scale}`);
console.log(line(header));
for (const row of table) console.log(line(row));
for (const note of notes) console.log(note);
