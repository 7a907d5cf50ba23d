import test from 'ava';
import { startFencing, tasksToFence, type FenceCandidate } from '../../actors/worker/fence.js';
import { eventually } from '../runtime/helpers/wait.js';

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

test('startFencing stops each due task once, even while its stop is slow', async (t) => {
  // Time is the injected `now`; the test waits on how many times fencing looked, never on a timer.
  let now = 1_000_000;
  let since: number | null = null;
  let looks = 0;
  const stops: string[] = [];
  const fenced: string[] = [];
  let finishStop: () => void = () => undefined;
  const stop = startFencing({
    tasks: () => {
      looks += 1;
      return [task('a', 50), task('b')].filter((x) => !fenced.includes(x.taskId));
    },
    disconnectedSince: () => since,
    stop: (id) => {
      stops.push(id);
      return new Promise<void>((resolve) => (finishStop = resolve));
    },
    onFenced: (id) => fenced.push(id),
    everyMs: 5,
    now: () => now,
  });
  t.teardown(stop);
  const looked = async (n: number): Promise<void> => {
    const target = looks + n;
    await eventually(`${n} more looks`, () => looks >= target, 5_000, 5);
  };
  await looked(3);
  t.deepEqual(stops, [], 'connected: nothing stopped');
  since = now;
  now += 49;
  await looked(3);
  t.deepEqual(stops, [], 'cut off 49 ms of 50: nothing stopped yet');
  now += 1;
  await eventually('a stopped', () => stops.length > 0, 5_000, 5);
  await looked(3);
  t.deepEqual(stops, ['a'], 'once, while its stop is still running');
  finishStop();
  await eventually('a fenced', () => fenced.length > 0, 5_000, 5);
  await looked(3);
  t.deepEqual(stops, ['a']);
  t.deepEqual(fenced, ['a']);
});
