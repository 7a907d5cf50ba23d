/** A worker for tests: a temp data dir, its events recorded, and clean-up of its tasks afterwards. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, type WorkerEvent, type WorkerOptions } from '../../actors/worker/index.js';

export interface TestWorker {
  w: Worker;
  dir: string;
  events: WorkerEvent[];
  /** Stops the worker's actors; its tasks keep running (as when the worker process dies). */
  shutdown(): Promise<void>;
}

/**
 * Starts a worker; at teardown, unless `shutdown()` was called, its tasks are
 * removed and it stops. A temp data dir it made is deleted.
 */
export async function startTestWorker(
  t: { teardown(fn: () => Promise<void> | void): void },
  options: { runtime: 'docker' | 'process'; cluster: string; dataDir?: string; tasksBudget?: WorkerOptions['tasksBudget'] },
): Promise<TestWorker> {
  const dir = options.dataDir ?? (await mkdtemp(join(tmpdir(), `goat-worker-${options.runtime}-`)));
  const w = await Worker.start({ dataDir: dir, runtime: options.runtime, cluster: options.cluster, ...(options.tasksBudget ? { tasksBudget: options.tasksBudget } : {}) });
  const events: WorkerEvent[] = [];
  w.subscribe((e) => events.push(e));
  let closed = false;
  const shutdown = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await w.shutdown();
  };
  t.teardown(async () => {
    if (!closed) {
      // Stop the actors first, so that no task actor restarts what is being removed, then remove every instance.
      const tasks = w.tasks();
      await shutdown().catch(() => undefined);
      for (const task of tasks) await w.runtime.remove(task.id, task.generation).catch(() => undefined);
      for (const s of await w.runtime.list().catch(() => [])) await w.runtime.remove(s.taskId, s.generation).catch(() => undefined);
    }
    if (!options.dataDir) await rm(dir, { recursive: true, force: true });
  });
  return { w, dir, events, shutdown };
}

/** The delays of the restarts scheduled for task `id`, in order. */
export function restartDelays(events: WorkerEvent[], id: string): number[] {
  return events.flatMap((e) => (e.type === 'supervision' && e.event.type === 'restart_scheduled' && e.event.path.endsWith(`/${id}`) ? [e.event.delayMs] : []));
}
