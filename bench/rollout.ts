/**
 * Issue 10's benchmarks:
 *
 * - rolling update: a Manager (temp data dir, real SQLite) and 10 simulated
 *   workers (real links over real WebSockets, in this process); a service of
 *   100 replicas gets a new task spec (stop-first, monitorMs 0) at
 *   parallelism 1, 10 and 100: the time from the PATCH until the rollout is
 *   `completed`, and the fewest tasks running at any moment (counted from the manager's event log).
 * - reconcile cost and history: one round — a task of a 100-replica service
 *   fails, the service is reconciled, a placement round runs, the service's
 *   tasks are listed (`GET /v1/tasks?service=`) and `/metrics` is rendered —
 *   on a store with no other tasks (baseline) and on one with 100,000
 *   terminal tasks of other services (candidate), side by side. Target ≤ 1.2×.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Manager } from '../actors/manager/manager.js';
import { normalizeServiceSpec, type TaskRecord } from '../lib/model/index.js';
import { openSqliteStore } from '../lib/store/index.js';
import { quiet, startSimCluster, waitFor } from './fixtures/sim-cluster.js';
import { compare, now, type Comparison } from './measure.js';

const TOKEN = 'bench-token-rollout-0123456789';

/** One rolling update's figures. */
export interface RolloutFigure {
  parallelism: number;
  replicas: number;
  workers: number;
  /** From the PATCH until `completed`, ms. */
  ms: number;
  /** The fewest tasks running at any sample during the rollout. */
  fewestRunning: number;
}

async function rolloutRound(parallelism: number, replicas: number, workers: number): Promise<RolloutFigure> {
  const c = await startSimCluster({ token: TOKEN, workers, tmpPrefix: 'goat-bench-rollout-' });
  try {
    const m = c.manager;
    const task = { image: 'goat/echo', resources: { cpu: 0.1, memoryMb: 64 }, env: { V: '1' } };
    await m.putService({ name: 'web', replicas, task, update: { parallelism, monitorMs: 0, order: 'stop-first' } });
    await waitFor('all running', () => m.listTasks({ service: 'web', state: 'running' }).length === replicas, 60_000, 5);
    // Exact, from the event log in commit order: a task is running from its `running` event until its next state.
    const running = new Set(m.listTasks({ service: 'web', state: 'running' }).map((t) => t.id));
    let fewest = running.size;
    const off = m.subscribeEvents((e) => {
      if (e.type !== 'task.state' || !e.subject.startsWith('web.')) return;
      if (e.data['state'] === 'running') running.add(e.subject);
      else running.delete(e.subject);
      fewest = Math.min(fewest, running.size);
    });
    const t0 = now();
    await m.putService({ name: 'web', replicas, task: { ...task, env: { V: '2' } }, update: { parallelism, monitorMs: 0, order: 'stop-first' } });
    await waitFor('rollout completed', () => m.getService('web')?.update?.state === 'completed', 120_000, 5);
    const ms = now() - t0;
    off();
    return { parallelism, replicas, workers, ms, fewestRunning: fewest };
  } finally {
    await c.stop();
  }
}

/** Rolling updates of 100 replicas on 10 simulated workers at parallelism 1, 10 and 100. */
export async function rolloutBenchmarks(scale = 1): Promise<RolloutFigure[]> {
  const replicas = Math.max(10, Math.round(100 * scale));
  const out: RolloutFigure[] = [];
  for (const p of [1, 10, 100]) out.push(await rolloutRound(Math.min(p, replicas), replicas, 10));
  return out;
}

function record(service: string, slot: number, generation: number, state: TaskRecord['state'], spec: TaskRecord['spec'], at: number): TaskRecord {
  return {
    id: `${service}.${slot}.g${generation}`, service, slot, generation, node: state === 'pending' ? null : 'n1', state, desired: state === 'running' ? 'running' : 'stopped',
    restarts: 0, lastExit: null, failure: state === 'failed' ? { kind: 'app', message: 'exited with code 1' } : null, error: null, spec, createdAt: at, updatedAt: at,
  };
}

/** A Manager (no HTTP, no workers) on a store with a 100-replica service `web` running, and `history` terminal tasks of other services. */
async function reconcileSetup(history: number): Promise<{ round: () => Promise<{ ops: number; ms: number }>; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'goat-bench-history-'));
  const store = openSqliteStore(join(dir, 'goat.db'));
  const spec = normalizeServiceSpec({ name: 'web', replicas: 100, task: { image: 'goat/echo' }, reschedule: { initialMs: 0 } });
  store.putService(spec, 1);
  store.putTasks(Array.from({ length: 100 }, (_, slot) => ({ ...record('web', slot, 1, 'running', spec.task, 1), desired: 'running' as const })));
  // Other services' history: each at its taskHistory limit (5 per slot, 20 slots), as pruning leaves it.
  const batch: TaskRecord[] = [];
  for (let i = 0; i < history; i++) {
    const svc = `old-${Math.floor(i / 100)}`;
    const slot = Math.floor((i % 100) / 5);
    batch.push(record(svc, slot, (i % 5) + 1, i % 3 === 0 ? 'stopped' : 'failed', spec.task, 1));
    if (batch.length === 5_000) store.putTasks(batch.splice(0));
  }
  store.putTasks(batch);
  const manager = await Manager.start({ dataDir: dir, http: false, token: TOKEN, store: () => store, logger: quiet });
  // The replacement task the controller writes (pending), as its event says.
  const replaced = (): Promise<string> => new Promise((resolve) => {
    const off = manager.subscribeEvents((e) => {
      if (e.type !== 'task.state' || (e.data as { state?: string; service?: string }).state !== 'pending' || (e.data as { service?: string }).service !== 'web') return;
      off();
      resolve(e.subject);
    });
  });
  const round = async (): Promise<{ ops: number; ms: number }> => {
    const ops = 20;
    const t0 = now();
    for (let i = 0; i < ops; i++) {
      const slot = i % 100;
      const current = store.listActiveTasks({ service: 'web' }).find((t) => t.slot === slot && t.desired === 'running');
      if (current) store.putTasks([{ ...current, state: 'failed', updatedAt: Date.now() }]);
      // services/web reconciles (a pending replacement), then the scheduler tries to place it (no node: its error says so).
      const next = replaced();
      manager.tell('/cluster/manager/services/web', { type: 'reconcile' });
      const id = await next;
      while (!store.getTask(id)?.error) await new Promise<void>((r) => setImmediate(r));
      manager.listTasks({ service: 'web' });
      await manager.metrics();
    }
    return { ops, ms: now() - t0 };
  };
  return {
    round,
    close: async () => {
      await manager.stop(); // closes the store (its actor owns it)
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A reconcile round with 100,000 terminal tasks in the store vs none, side by side. */
export async function historyBenchmark(scale = 1): Promise<Comparison> {
  const history = Math.max(1_000, Math.round(100_000 * scale));
  const none = await reconcileSetup(0);
  const full = await reconcileSetup(history);
  try {
    return await compare(`reconcile round: ${history.toLocaleString('en-US')} terminal tasks in the store vs none`, ['no history', none.round], [`${history.toLocaleString('en-US')} terminal`, full.round], 7);
  } finally {
    await none.close();
    await full.close();
  }
}

// `node dist/bench/rollout.js`: these benchmarks alone (BENCH_SCALE=0.1 for a quick run), with the load average they ran under.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const scale = Number(process.env['BENCH_SCALE'] ?? '1');
  const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');
  console.log(`load average before: ${load()}`);
  for (const r of await rolloutBenchmarks(scale)) console.log(`rolling update: ${r.replicas} replicas on ${r.workers} sim workers, parallelism ${r.parallelism}: completed in ${(r.ms / 1000).toFixed(2)} s, fewest running ${r.fewestRunning}`);
  const h = await historyBenchmark(scale);
  console.log(`${h.name}: ${(h.baselineUs / 1000).toFixed(2)} ms vs ${(h.candidateUs / 1000).toFixed(2)} ms = ${(h.candidateUs / h.baselineUs).toFixed(2)}× (target ≤ 1.2×)`);
  console.log(`load average after: ${load()}`);
}
