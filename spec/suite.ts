/**
 * `npm test` (after the build): runs the suite, then checks that it left
 * nothing behind.
 *
 *     node dist/spec/suite.js            # ava, the disruptive specs one by one, 1,000 simulation seeds, then the check
 *     node dist/spec/suite.js --light    # the same without the heavy specs (Docker, multi-process failures, disruptive)
 *     node dist/spec/suite.js FILES…     # ava on FILES, then the check
 *
 * Every process the run starts inherits `GOAT_TEST_RUN=<id>` and a temp dir
 * of its own (TMPDIR); containers get the label `goat.test-run=<id>`
 * (spec/helpers/leaks.ts). After ava exits, the run waits a little for what
 * is still stopping, then lists what is left (processes, containers, temp
 * entries), removes it and fails, naming each leftover.
 */
import Dockerode from 'dockerode';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clean, describe, leftovers, reap, RUN_ENV, type Leftovers } from './helpers/leaks.js';
import { ROOT } from './runtime/helpers/repo.js';
import { CI_BUDGET } from '../lib/sim/config.js';

/** The spec files that run once per CI run (on the lowest supported Node), not on every version: Docker, multi-process failures, the disruptive ones, real etcd clusters, and the packed package's types (not Node-version specific). */
export const HEAVY = [
  'dist/spec/integration/',
  'dist/spec/runtime/docker.spec.js',
  'dist/spec/runtime/images.spec.js',
  'dist/spec/disruptive/',
  'dist/spec/hygiene/package-types.spec.js',
  'dist/spec/ha/',
  'dist/spec/store/etcd.spec.js',
];

/** The spec files of the light run: every `dist/spec/…/*.spec.js` but the {@link HEAVY} ones. */
async function lightFiles(): Promise<string[]> {
  const all = (await readdir(join(ROOT, 'dist', 'spec'), { recursive: true })).map((f) => `dist/spec/${f}`);
  return all.filter((f) => f.endsWith('.spec.js') && !HEAVY.some((h) => f.startsWith(h))).sort();
}

const AVA = join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
/** How long leftovers may take to go away after ava exits (processes still exiting, containers being removed). */
const SETTLE_MS = 15_000;

function ava(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [AVA, ...args], { cwd: ROOT, env, stdio: 'inherit' });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/**
 * The deterministic simulation's CI budget (lib/sim/config.ts CI_BUDGET):
 * 1,000 seeds of a simulated minute of chaos and 90 s of settling each, on
 * two processes (the machine's two cores), with 20 of them replayed for the
 * determinism check. Once per CI run (the full suite, on Node 20); a failing
 * seed is shrunk and written to sim-failures/ (replay: npm run sim -- --replay FILE).
 */
function simulation(env: NodeJS.ProcessEnv): Promise<number> {
  const args = ['dist/lib/sim/cli.js', '--seeds', String(CI_BUDGET.seeds), '--jobs', '2', '--chaos', String(CI_BUDGET.chaosMs / 1000), '--settle', String(CI_BUDGET.settleMs / 1000), '--determinism', '20', '--json'];
  console.log(`[suite] simulation: node ${args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: 'inherit' });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function engine(): Promise<Dockerode | undefined> {
  const docker = new Dockerode();
  try {
    await (docker as unknown as { ping(o: { abortSignal: AbortSignal }): Promise<unknown> }).ping({ abortSignal: AbortSignal.timeout(2000) });
    return docker;
  } catch {
    return undefined;
  }
}

const args = process.argv.slice(2);
const light = args[0] === '--light';
const files = light ? [] : args;
const runId = process.env[RUN_ENV] || `${Date.now().toString(36)}-${process.pid}`;
const tempDir = await mkdtemp(join(tmpdir(), `goat-test-${runId}-`));
// GOAT_TEST_OUTER_TMPDIR: the TMPDIR from before the run, for what must outlive it (a dockerd a test restarts).
const env: NodeJS.ProcessEnv = { ...process.env, [RUN_ENV]: runId, TMPDIR: tempDir, GOAT_TEST_OUTER_TMPDIR: process.env['TMPDIR'] ?? '' };
console.log(`[suite] test run ${runId}: processes carry ${RUN_ENV}=${runId}, containers the label goat.test-run=${runId}, temp files go to ${tempDir}`);

let failed: boolean;
if (files.length > 0) {
  failed = (await ava(files, env)) !== 0;
} else {
  failed = (await ava(light ? await lightFiles() : [], env)) !== 0;
  if (!light) {
    const disruptive = (await readdir(join(ROOT, 'dist', 'spec', 'disruptive'))).filter((f) => f.endsWith('.spec.js')).map((f) => `dist/spec/disruptive/${f}`);
    if (disruptive.length > 0) failed = (await ava(['--serial', ...disruptive], env)) !== 0 || failed;
    failed = (await simulation(env)) !== 0 || failed;
  }
}

const docker = await engine();
const deadline = Date.now() + SETTLE_MS;
let left: Leftovers;
for (;;) {
  left = await leftovers(runId, docker, tempDir);
  if (clean(left) || Date.now() > deadline) break;
  await new Promise((resolve) => setTimeout(resolve, 250));
}
if (clean(left)) {
  console.log(`[suite] nothing left behind by test run ${runId}`);
} else {
  failed = true;
  console.error(`[suite] FAIL: test run ${runId} left these behind ${SETTLE_MS / 1000} s after its tests ended (now removed):\n${describe(left, tempDir)}`);
  await reap(left, docker, tempDir);
}
await rm(tempDir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
