/**
 * Reports of one link applied in the worker's order, whatever order they
 * arrive in: a task's report older than one already taken (frames
 * overtaken or repeated on the way) is dropped. Found by the simulation's
 * `states-agree` check (CI seed 122, a hostile network): a task's
 * `unknown`, sent as its worker's engine came back, arrived just after its
 * `running`, and the manager believed it `unknown` for good, which held up
 * the service's rollout.
 */
import test from 'ava';
import { SimulatedClock } from '../../lib/supervision/index.js';
import type { Manager } from '../../actors/manager/manager.js';
import { FakeLink, hello } from './helpers/fake-link.js';
import { drive, drivenManager, reportOf } from './helpers/driven.js';

async function running(t: { teardown(f: () => Promise<void>): void }): Promise<{ clock: SimulatedClock; m: Manager; a: FakeLink; id: string }> {
  const clock = new SimulatedClock(1_000_000);
  const m = await drivenManager(t, clock);
  const a = new FakeLink(hello('a'));
  m.attachLink(a);
  await clock.advance(0);
  await m.putService({ name: 'web', replicas: 1, task: { command: ['sleep', '60'] } });
  await drive(clock, m, a, () => m.listTasks({ service: 'web' }).some((x) => x.state === 'running'), 5_000);
  return { clock, m, a, id: m.listTasks({ service: 'web' })[0]!.id };
}

test('a report that arrives after a later one of the same link is not applied over it', async (t) => {
  const { clock, m, a, id } = await running(t);
  const task = m.getTask(id)!;
  // The worker sent `unknown` (3), then `running` (4); they arrive the other way round, and 3 once more.
  a.report([reportOf(task, 'running')], 4);
  a.report([{ ...reportOf(task, 'running'), state: 'unknown' }], 3);
  await clock.advance(0);
  t.is(m.getTask(id)?.state, 'running');
  a.report([{ ...reportOf(task, 'running'), state: 'unknown' }], 3);
  await clock.advance(0);
  t.is(m.getTask(id)?.state, 'running', 'a repeated old frame changes nothing');
  // A later report is applied.
  a.report([{ ...reportOf(task, 'running'), state: 'unknown' }], 5);
  await clock.advance(0);
  t.is(m.getTask(id)?.state, 'unknown');
});

test('the order is per task: an older frame still says what it says of another task; a new link counts from 1 again', async (t) => {
  const { clock, m, a, id } = await running(t);
  await m.scaleService('web', 2);
  await drive(clock, m, a, () => m.listTasks({ service: 'web' }).filter((x) => x.state === 'running').length === 2, 5_000);
  const [x, y] = [m.getTask(id)!, m.listTasks({ service: 'web' }).find((z) => z.id !== id)!];
  a.report([{ ...reportOf(x, 'running'), state: 'unknown' }], 7);
  a.report([{ ...reportOf(y, 'running'), state: 'unknown' }, reportOf(x, 'running')], 6);
  await clock.advance(0);
  t.is(m.getTask(x.id)?.state, 'unknown', 'frame 6 is older for x');
  t.is(m.getTask(y.id)?.state, 'unknown', 'but the only word on y');
  // The worker links again: its hello says where both stand, and its reports count from 1.
  a.close(1006, 'reset');
  const b = new FakeLink(hello('a', [reportOf(x, 'running'), reportOf(y, 'running')]));
  m.attachLink(b);
  await clock.advance(0);
  t.is(m.getTask(x.id)?.state, 'running');
  b.report([{ ...reportOf(x, 'running'), state: 'unknown' }], 1);
  await clock.advance(0);
  t.is(m.getTask(x.id)?.state, 'unknown');
});

test('reports without a number (an older worker) are applied as they come', async (t) => {
  const { clock, m, a, id } = await running(t);
  const task = m.getTask(id)!;
  a.report([reportOf(task, 'running')]);
  a.report([{ ...reportOf(task, 'running'), state: 'unknown' }]);
  await clock.advance(0);
  t.is(m.getTask(id)?.state, 'unknown');
});
