/**
 * Self-fencing: a worker cut off from every manager for a task's
 * `disconnect.stopAfterMs` stops that task itself, so that the copy the
 * manager re-places elsewhere is never the second one running once the
 * partition heals. The task is then reported `stopped` in the next hello.
 * Tasks without `stopAfterMs` keep running (the default).
 */
import type { TaskSpec } from '../../lib/model/index.js';
import { systemClock, type Clock, type TimerId } from '../../lib/supervision/index.js';

/** A task as fencing sees it. */
export interface FenceCandidate {
  taskId: string;
  state: string;
  spec: Pick<TaskSpec, 'disconnect'>;
}

/** The tasks to stop now: cut off (since `disconnectedSince`) at least their `stopAfterMs`, and not already finished. Pure. */
export function tasksToFence(tasks: readonly FenceCandidate[], disconnectedSince: number | null, now: number): string[] {
  if (disconnectedSince === null) return [];
  const cutOffMs = now - disconnectedSince;
  return tasks
    .filter((t) => t.spec.disconnect.stopAfterMs !== undefined && cutOffMs >= t.spec.disconnect.stopAfterMs)
    .filter((t) => t.state !== 'stopped' && t.state !== 'completed' && t.state !== 'failed')
    .map((t) => t.taskId);
}

/** What fencing needs of the worker and its link. */
export interface FenceOptions {
  /** The tasks assigned here now, with their state. */
  tasks(): FenceCandidate[];
  /** Since when no manager is linked (null while linked): the LinkClient's `disconnectedSince`. */
  disconnectedSince(): number | null;
  /** Stops one task (the worker's `stopTask`). */
  stop(taskId: string): Promise<void>;
  /** Told of each task fenced, or of a stop that failed. */
  onFenced?(taskId: string, error?: unknown): void;
  /** How often to look while cut off (ms). @default 100 */
  everyMs?: number;
  /**
   * Subscribes to the link's losses (the LinkClient's `disconnected`),
   * returning the unsubscribe. Given, fencing does not poll while linked
   * (nothing can be due then): a loss wakes it. Without it, it polls always.
   */
  onDisconnected?(listener: () => void): () => void;
  /** Where time comes from (the worker's clock). @default systemClock */
  clock?: Clock;
}

/** Starts watching; returns the function that stops it. */
export function startFencing(o: FenceOptions): () => void {
  const stopping = new Set<string>();
  const clock = o.clock ?? systemClock;
  const everyMs = o.everyMs ?? 100;
  let timer: TimerId | null = null;
  let stopped = false;
  const look = (): void => {
    timer = null;
    if (stopped) return;
    const since = o.disconnectedSince();
    if (since !== null || !o.onDisconnected) {
      timer = clock.setTimeout(look, everyMs);
      (timer as { unref?: () => void } | null)?.unref?.();
    }
    for (const id of tasksToFence(o.tasks(), since, clock.now())) {
      if (stopping.has(id)) continue;
      stopping.add(id);
      o.stop(id).then(
        () => o.onFenced?.(id),
        (err: unknown) => o.onFenced?.(id, err),
      ).finally(() => stopping.delete(id));
    }
  };
  timer = clock.setTimeout(look, everyMs);
  (timer as { unref?: () => void } | null)?.unref?.();
  const off = o.onDisconnected?.(() => {
    if (timer === null) look();
  });
  return () => {
    stopped = true;
    off?.();
    if (timer !== null) clock.clearTimeout(timer);
  };
}
