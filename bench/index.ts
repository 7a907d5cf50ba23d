/**
 * `npm run bench`: every benchmark, each printed as a ratio against a
 * baseline measured side by side in the same run. `BENCH_SCALE=0.1` for a
 * quick run. Targets come from the issues; the table says whether each is met.
 */
import { clusterMemoryBenchmark, clusterThroughputBenchmark } from './cluster.js';
import { failureBenchmarks } from './failures.js';
import { placementBenchmarks } from './placement.js';
import { historyBenchmark, rolloutBenchmarks } from './rollout.js';
import { logsRows } from './logs.js';
import { slowSubscribersBenchmark } from './slow-subscribers.js';
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

// Placement has no baseline to run beside it: the ratio is against the issue's target of 20,000 placements/s.
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

// The manager end to end: no baseline runs beside it either; the ratios are against the issue's targets.
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

// Failures (issue 5): against the issue's targets; the other orchestrators' defaults are quoted, not run.
const KILLED_TARGET_MS = 5_000;
const { killed, falseDowns, storm } = await failureBenchmarks(scale);
rows.push({
  name: killed.name, baseline: 'defaults: Swarm ~15 s, Nomad 20–30 s, k8s ~5 min 50 s', candidate: `${(killed.ms / 1000).toFixed(2)} s`,
  ratio: killed.ms / KILLED_TARGET_MS, target: '≤ 5 s', ok: killed.ms <= KILLED_TARGET_MS,
});
rows.push({
  name: falseDowns.name, baseline: 'target 0', candidate: `${falseDowns.downs} down (${falseDowns.suspects} suspect)`,
  ratio: falseDowns.downs, target: '0 down verdicts', ok: falseDowns.downs === 0,
});
rows.push({
  name: storm.name, baseline: 'no target', candidate: `peak ${storm.peakPer100Ms} attempts/100 ms; all back in ${(storm.backAfterReadyMs / 1000).toFixed(2)} s`,
  ratio: storm.peakPer100Ms / storm.workers, target: 'report', ok: true,
});
notes.push(`worker killed: ${killed.rounds.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(', ')} (median shown), from the kill -9 of the worker's process group and its tasks until every slot runs on a live node; default settings (heartbeat 1 s, down after 4 s)`);
notes.push(`false down verdicts: ${falseDowns.burners} busy-looping processes for ${Math.round(falseDowns.windowMs / 1000)} s beside the manager's child process; ${falseDowns.linkDrops} link drops`);
notes.push(`link storm: ratio = peak ÷ workers; ${storm.attempts} connection attempts from the kill until all were back (${(storm.backAfterKillMs / 1000).toFixed(2)} s after the kill; the new manager listened ${Math.round(storm.downMs)} ms after it); default reconnect backoff (500 ms doubling to 30 s, full jitter)`);

// Rolling updates and history (issue 10).
for (const r of await rolloutBenchmarks(scale)) {
  rows.push({
    name: `rolling update: ${r.replicas} replicas on ${r.workers} sim workers, parallelism ${r.parallelism}`, baseline: 'no target',
    candidate: `completed in ${(r.ms / 1000).toFixed(2)} s; fewest running ${r.fewestRunning}`, ratio: r.fewestRunning / r.replicas, target: 'report', ok: true,
  });
}
notes.push('rolling update: ratio = fewest running ÷ replicas (stop-first, monitorMs 0)');
const hist = await historyBenchmark(scale);
{
  const slow = hist.candidateUs / hist.baselineUs;
  rows.push({ name: hist.name, baseline: `${hist.baselineName} ${(hist.baselineUs / 1000).toFixed(2)} ms`, candidate: `${hist.candidateName} ${(hist.candidateUs / 1000).toFixed(2)} ms`, ratio: slow, target: '≤ 1.2× time', ok: slow <= 1.2 });
}
// Slow event subscribers (issue 11): RSS bounded, and a normal client's p99 against the same flood without them.
const sse = await slowSubscribersBenchmark(scale);
const SSE_RSS_BOUND_MB = 300;
const sseRatio = sse.floodP99Ms / sse.quietP99Ms;
rows.push({
  name: `${sse.name}: API p99`, baseline: `same events, no subscribers ${Math.round(sse.quietP99Ms)} ms`, candidate: `${Math.round(sse.floodP99Ms)} ms`,
  ratio: sseRatio, target: '≤ 2× p99', ok: sseRatio <= 2,
});
rows.push({
  name: `${sse.name}: manager RSS`, baseline: `${Math.round(sse.rssBefore / 1_048_576)} MB before`, candidate: `peak ${Math.round(sse.rssPeak / 1_048_576)} MB`,
  ratio: sse.rssPeak / sse.rssBefore, target: `bounded (≤ ${SSE_RSS_BOUND_MB} MB)`, ok: sse.rssPeak / 1_048_576 <= SSE_RSS_BOUND_MB,
});
notes.push(`slow subscribers: an idle manager's API p99 is ${sse.idleP99Ms.toFixed(1)} ms; the event flood (PATCH replicas 0 ↔ 100, no workers) dominates both runs`);

rows.push(...(await logsRows(scale, engineProblem === undefined, notes))); // logs --follow vs docker logs -f / tail -f; RSS with followers (issue 14)

const table = rows.map((r) => [r.name, r.baseline, r.candidate, `${r.ratio.toFixed(2)}×`, r.target, r.ok ? 'met' : 'MISSED']);
const header = ['benchmark', 'baseline', 'goat', 'ratio', 'target', ''];
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} cpus, scale ${scale}`);
console.log(line(header));
for (const row of table) console.log(line(row));
for (const note of notes) console.log(note);
