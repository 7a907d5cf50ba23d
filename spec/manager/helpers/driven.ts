/**
 * A real actor Manager on a test's clock with fake links (no network), and
 * the loop that drives it: time advances in steps while the node beats and
 * runs whatever it is assigned.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../../actors/manager/manager.js';
import type { TaskRecord } from '../../../lib/model/index.js';
import type { Clock } from '../../../lib/supervision/index.js';
import type { FakeLink } from './fake-link.js';

/** A clock the test moves. */
export interface DrivenClock extends Clock {
  advance(ms: number): Promise<void>;
}

/** Starts a manager on `clock` in a temporary data dir, stopped and removed at teardown (heartbeat 100 ms, nodes never down). */
export async function drivenManager(t: { teardown(f: () => Promise<void>): void }, clock: Clock): Promise<Manager> {
  const dir = await mkdtemp(join(tmpdir(), 'goat-driven-'));
  const m = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: 'test-token-123456', logger: { info: () => undefined, warn: () => undefined }, clock, heartbeatMs: 100, downAfterMs: 60_000, recoveryGraceMs: 0 });
  t.teardown(async () => {
    await m.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return m;
}

/** A worker's report of task `x` in `state` (a failure says why). */
export function reportOf(x: TaskRecord, state: 'running' | 'failed'): Parameters<FakeLink['report']>[0][number] {
  return {
    taskId: x.id, service: x.service, slot: x.slot, generation: x.generation, state, restarts: 0,
    ...(state === 'failed' ? { failure: { kind: 'app' as const, message: 'exited with code 1' } } : {}),
  };
}

/**
 * Advances in `stepMs` steps until `done` (or `limitMs` of the clock's time), node `node` beating and running what
 * it is assigned; returns the time it took.
 */
export async function drive(clock: DrivenClock, m: Manager, link: FakeLink, done: () => boolean, limitMs: number, stepMs = 50): Promise<number> {
  const from = clock.now();
  while (!done() && clock.now() - from < limitMs) {
    const assigned = m.listTasks({ node: link.nodeId }).filter((x) => x.state === 'assigned' && x.desired === 'running');
    if (assigned.length > 0) link.report(assigned.map((x) => reportOf(x, 'running')));
    link.beat();
    await clock.advance(stepMs);
  }
  return clock.now() - from;
}
