import test from 'ava';
import { startFencing, tasksToFence, type FenceCandidate } from '../../actors/worker/fence.js';
import { SimulatedClock, sleep } from '../../lib/supervision/index.js';

const task = (taskId: string, stopAfterMs?: number, state = 'running'): FenceCandidate => ({
  taskId, state, spec: { disconnect: { replace: true, ...(stopAfterMs === undefined ? {} : { stopAfterMs }) } },
});

test('tasksToFence: only tasks with stopAfterMs, once cut off that long, and not already finished', (t) => {
  const tasks = [task('a', 500), task('b'), task('c', 2_000), task('d', 100, 'stopped'), task('e', 100, 'restarting')];
  t.deepEqual(tasksToFence(tasks, null, 10_000), [], 'linked: nothing');
  t.deepEqual(tasksToFence(tasks, 1_000, 1_499), ['e']);
  t.deepEqual(tasksToFence(tasks, 1_000, 1_500), ['a', 'e']);
  t.deepEqual(tasksToFence(tasks, 1_000, 3_000), ['a', 'c', 'e'], 'b (no stopAfterMs) keeps running');
});

test('startFencing stops each due task once, even while its stop is slow (simulated clock)', async (t) => {
  const clock = new SimulatedClock(1_000_000);
  let since: number | null = null;
  const stops: string[] = [];
  const fenced: string[] = [];
  const stop = startFencing({
    tasks: () => [task('a', 50), task('b')].filter((x) => !fenced.includes(x.taskId)),
    disconnectedSince: () => since,
    stop: async (id) => {
      stops.push(id);
      await sleep(clock, 100);
    },
    onFenced: (id) => fenced.push(id),
    everyMs: 10,
    clock,
  });
  t.teardown(stop);
  await clock.advance(100);
  t.deepEqual(stops, [], 'connected: nothing stopped');
  since = clock.now();
  await clock.advance(40);
  t.deepEqual(stops, [], 'cut off 40 ms: not yet (stopAfterMs 50)');
  await clock.advance(10);
  t.deepEqual(stops, ['a'], 'cut off 50 ms: stopped');
  t.deepEqual(fenced, [], 'its stop is still running');
  await clock.advance(100);
  t.deepEqual(stops, ['a'], 'stopped once, though looked at 10 times meanwhile');
  t.deepEqual(fenced, ['a']);
  stop();
  t.is(clock.pending, 0, 'stopping fencing leaves no timer');
});

test('startFencing with onDisconnected: no timer while linked, a loss wakes it, and it fences on time', async (t) => {
  const clock = new SimulatedClock(1_000_000);
  let since: number | null = null;
  const listeners = new Set<() => void>();
  const stops: string[] = [];
  const stop = startFencing({
    tasks: () => [task('a', 50)].filter((x) => !stops.includes(x.taskId)),
    disconnectedSince: () => since,
    stop: async (id) => {
      stops.push(id);
    },
    onDisconnected: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    everyMs: 10,
    clock,
  });
  t.teardown(stop);
  await clock.advance(20);
  t.is(clock.pending, 0, 'linked: it does not poll');
  since = clock.now();
  for (const l of listeners) l();
  await clock.advance(49);
  t.deepEqual(stops, [], 'cut off 49 ms: not yet');
  await clock.advance(10);
  t.deepEqual(stops, ['a'], 'cut off 50 ms (looked at every 10 ms while cut off): stopped');
  since = null;
  await clock.advance(20);
  t.is(clock.pending, 0, 'linked again: no timer');
  stop();
  t.is(listeners.size, 0, 'stopping fencing unsubscribes');
});
