/**
 * The deterministic simulation (lib/sim): runs replay exactly, the planted
 * bugs are each caught within the CI seed budget and shrunk to a minimal
 * schedule, the seeds that found Goat's bugs stay green, and nothing real
 * can be touched during a run.
 */
import test from 'ava';
import fs, { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { CI_BUDGET, configFor } from '../../lib/sim/config.js';
import { installGuard, RealWorldTouched, realSetImmediate } from '../../lib/sim/guard.js';
import { Observer } from '../../lib/sim/observer.js';
import { PLANTED_BUGS, type PlantedBug } from '../../lib/sim/planted.js';
import { Prng } from '../../lib/sim/prng.js';
import { runSim } from '../../lib/sim/run.js';
import { SimScheduler } from '../../lib/sim/scheduler.js';
import { shrink } from '../../lib/sim/shrink.js';

const ci = { chaosMs: CI_BUDGET.chaosMs, settleMs: CI_BUDGET.settleMs };

// Each worker's leader epoch is kept in memory during a run: reading `<dataDir>/epoch` from the real disk
// resolved after an unpredictable number of macrotasks and made runs diverge at their first connections.
test.serial('a seed replays exactly: same trace, same hash; another seed differs', async (t) => {
  t.timeout(5 * 60_000);
  const a = await runSim(configFor(11, ci), { trace: true });
  const b = await runSim(configFor(11, ci), { trace: true });
  const c = await runSim(configFor(12, ci));
  t.true(a.ok, a.violations[0]?.detail);
  t.true(a.trace.length > 50);
  t.deepEqual(b.trace, a.trace);
  t.is(b.hash, a.hash);
  t.not(c.hash, a.hash);
  t.log(`seed 11: ${a.steps} events, ${a.simMs / 1000} s simulated in ${Math.round(a.realMs)} ms, hash ${a.hash}`);
});

for (const bug of PLANTED_BUGS) {
  test.serial(`planted bug ${bug}: caught within the CI seed budget and shrunk to a minimal schedule that still fails`, async (t) => {
    t.timeout(15 * 60_000); // seeds until caught, then the shrinker's runs: minutes on a loaded machine
    let seed: number;
    let found;
    for (seed = 1; seed <= CI_BUDGET.seeds; seed++) {
      found = await runSim(configFor(seed, ci), { bugs: [bug as PlantedBug] });
      if (!found.ok) break;
    }
    t.truthy(found && !found.ok, `${bug} not caught in ${CI_BUDGET.seeds} seeds`);
    if (!found || found.ok) return;
    const cfg = configFor(seed, ci);
    const small = await shrink(cfg, found, { bugs: [bug as PlantedBug] }, 40);
    t.true(small.to < small.from, `${small.from} → ${small.to} operations`);
    t.is(small.result.violations[0]?.invariant, found.violations[0]?.invariant);
    const replay = await runSim(small.config, { bugs: [bug as PlantedBug] });
    t.is(replay.violations[0]?.invariant, found.violations[0]?.invariant);
    const again = await runSim(small.config);
    t.true(again.ok, `without the bug the minimal schedule passes: ${again.violations[0]?.detail ?? ''}`);
    t.log(`${bug}: caught at seed ${seed} — ${found.violations[0]?.invariant}: ${found.violations[0]?.detail}`);
    t.log(`minimal schedule (${small.from} → ${small.to} operations, ${small.runs} runs):\n${small.config.schedule.map((s) => `  ${s.at} ms ${JSON.stringify(s.op)}`).join('\n')}`);
  });
}

// Seeds that found bugs in Goat (10 simulated minutes, 5 workers), kept as regression cases.
for (const [seed, bug] of [
  [1, 'a stop during the tasks supervisor restart left the task running'],
  [2, 'a stop that overtook its assign left the task running'],
  [3, 'a fenced task forgotten by a restarted worker left its slot empty'],
] as const) {
  test.serial(`regression seed ${seed}: ${bug}`, async (t) => {
    t.timeout(5 * 60_000);
    const r = await runSim(configFor(seed, { workers: 5 }));
    t.true(r.ok, r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n'));
    t.log(`seed ${seed}: ${r.simMs / 60_000} simulated minutes in ${(r.realMs / 1000).toFixed(1)} s (${Math.round(r.simMs / r.realMs)}×)`);
  });
}

// Seeds that found bugs once the simulation ran on the actor Manager (10 simulated minutes, workers as the seed picks).
for (const [seed, bug] of [
  [97, 'a task self-fenced while its engine was lost kept running unwatched, reported unknown for good: its slot stayed empty'],
  [158, 'a node actor restarted by a store error re-applied its link\'s old hello: a task running since was lost and its copy left running'],
  [21, 'a worker whose connection was accepted by a manager killed before answering waited forever (the handshake timeout)'],
  [52, 'a write committed just before the manager died, never answered, is not an acknowledged one'],
  [740, 'a node actor restarted by a store error within the recovery grace counted silence from the manager\'s start: a node declared down early'],
  [745, 'a node actor restarted by a store error within the recovery grace counted silence from the manager\'s start: a node declared down early'],
] as const) {
  test.serial(`regression seed ${seed}: ${bug}`, async (t) => {
    t.timeout(5 * 60_000);
    const r = await runSim(configFor(seed));
    t.true(r.ok, r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n'));
  });
}

// Seeds 80, 84 and 96 (10 simulated minutes, 5 workers: the shape of the README's throughput figure), each with
// manager kills, store faults and partitions, kept green with group commit and epochs in the simulation.
for (const seed of [80, 84, 96]) {
  test.serial(`regression seed ${seed} (10 simulated minutes, 5 workers)`, async (t) => {
    t.timeout(5 * 60_000);
    const r = await runSim(configFor(seed, { workers: 5 }));
    t.true(r.ok, r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n'));
  });
}

test('the observer fails a worker that acks a command of an older epoch than it stored, and only that', (t) => {
  const obs = new Observer(4_000, 8_000, () => 0, false);
  const frame = (type: string, id: string, body: Record<string, unknown>, re?: string): string => JSON.stringify({ json: { v: 1, id, type, ...(re ? { re } : {}), body } });
  obs.delivered('manager', 'w1', frame('stop', 'f1', { cmdId: 'stop:a:1', taskId: 'a', generation: 1, epoch: 3 }), 3);
  obs.delivered('w1', 'manager', frame('ack', 'f2', { cmdId: 'stop:a:1', applied: true }, 'f1'), 3);
  t.deepEqual(obs.violations, [], 'a command of the current epoch may be acted on');
  obs.delivered('manager', 'w1', frame('assign', 'f3', { cmdId: 'assign:b:1', task: { taskId: 'b', generation: 1 }, epoch: 2 }), 3);
  obs.delivered('w1', 'manager', frame('ack', 'f4', { cmdId: 'assign:b:1', applied: true }, 'f3'), 3);
  t.is(obs.violations[0]?.invariant, 'no-stale-command');
  t.regex(obs.violations[0]?.detail ?? '', /w1 acted on assign assign:b:1 of epoch 2 \(w1 has seen 3\)/);
});

for (const seed of [215, 668, 884, 933]) {
  test.serial(`regression seed ${seed} (CI budget): a node actor restarted after the grace waits the down timeout of silence`, async (t) => {
    const r = await runSim(configFor(seed, ci));
    t.true(r.ok, r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n'));
  });
}

// Group commit in the simulation (a commit that fails loses its group): a worker's report in a lost group was gone for
// good — a failed start's slot believed starting (199), a node left suspect or down after settling (569, 629).
for (const seed of [199, 569, 629]) {
  test.serial(`regression seed ${seed} (CI budget): what workers reported in a group that failed to commit is asked again`, async (t) => {
    const r = await runSim(configFor(seed, ci));
    t.true(r.ok, r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n'));
  });
}

// A harness fix: a worker may fence a task whose service was deleted meanwhile (the store forgot it; the worker's record
// still says `stopAfterMs`): CI seeds 351 and 475, once deleted services' tasks left the store.
for (const seed of [351, 475]) {
  test.serial(`regression seed ${seed} (CI budget): a worker fencing a task of a deleted service is self-fencing`, async (t) => {
    const r = await runSim(configFor(seed, ci));
    t.true(r.ok, r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n'));
  });
}

test.serial('regression seed 3194 (CI budget): a hello on a link closed before its node\'s actor took it (a RESYNC) counts as heard', async (t) => {
  const r = await runSim(configFor(3194, ci));
  t.true(r.ok, r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n'));
});

test.serial('regression seed 868 (CI budget): a worker re-linked as its node was declared down is not left linked to an ended actor', async (t) => {
  const r = await runSim(configFor(868, ci));
  t.true(r.ok, r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n'));
});

test.serial('regression seed 60 (CI budget): a task fenced between its worker\'s hello and welcome is reported', async (t) => {
  const r = await runSim(configFor(60, ci));
  t.true(r.ok, r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n'));
});

// Found by the settled checks `rollouts-done` and `states-agree` (issue 10): a scale mid-rollout left the rollout at the
// service's old version, `updating` for good once no slot was outdated (19, 35, 50); a task's report overtaken by an
// older one of the same link left it `unknown` (122); a task starting as its engine went away stayed `exited` in its
// worker's eyes, and so in the store's, while it ran again (326, 623).
for (const [seed, bug] of [
  [19, 'a scale to 0 mid-rollout'], [35, 'a scale to 0 mid-rollout'], [50, 'scales mid-rollout'],
  [122, 'a report overtaken on the way'], [326, 'a task started afresh after the engine came back'], [623, 'a task started afresh after the engine came back'],
] as const) {
  test.serial(`regression seed ${seed} (CI budget): ${bug}: every rollout ends and the store says what runs`, async (t) => {
    const r = await runSim(configFor(seed, ci));
    t.true(r.ok, r.violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n'));
  });
}

test.serial('nothing real inside a run: the network and the file system throw and are reported, time and randomness are the simulation’s', async (t) => {
  const sched = new SimScheduler(new Prng(1), realSetImmediate);
  const touched: string[] = [];
  const undo = installGuard(sched, () => undefined, (what) => touched.push(what));
  let now: number;
  let r1: number;
  let dated: number;
  let perf: number;
  try {
    t.throws(() => net.connect(80, '127.0.0.1'), { instanceOf: RealWorldTouched });
    t.throws(() => crypto.randomUUID(), { instanceOf: RealWorldTouched });
    t.throws(() => readFileSync('/etc/hostname'), { instanceOf: RealWorldTouched });
    t.throws(() => fs.existsSync('/'), { instanceOf: RealWorldTouched });
    await t.throwsAsync(async () => readFile('/etc/hostname'), { instanceOf: RealWorldTouched });
    // Caught by the code that touched it, the leak is still reported.
    await readFile('/etc/hostname').catch(() => undefined);
    t.deepEqual(touched, ['net.connect', 'crypto.randomUUID', 'fs.readFileSync', 'fs.existsSync', 'fs/promises.readFile', 'fs/promises.readFile']);
    now = Date.now();
    r1 = Math.random();
    dated = new Date().getTime();
    perf = performance.now();
    t.true(new Date(0) instanceof Date, 'dates made in a run are still Dates');
    t.true(typeof Date() === 'string');
  } finally {
    undo();
  }
  t.is(now, 1_800_000_000_000);
  t.is(dated, 1_800_000_000_000, 'new Date() reads the simulated clock');
  t.is(perf, 0, 'performance.now() reads simulated time');
  const again = new SimScheduler(new Prng(1), realSetImmediate);
  const undo2 = installGuard(again, () => undefined);
  let r2: number;
  try {
    r2 = Math.random();
  } finally {
    undo2();
  }
  t.is(r2, r1);
  t.true(Math.abs(Date.now() - new Date().getTime()) < 1_000, 'the real clock is back');
  t.true(performance.now() > 0, 'the real performance clock is back');
  t.true(readFileSync('/etc/hostname').length > 0, 'the file system is back');
});
