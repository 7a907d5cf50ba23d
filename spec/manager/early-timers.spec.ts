/**
 * A real manager on a clock whose timers fire a little before their time,
 * as Node's do against `Date.now()` (by however long the callback that set
 * them had run). A controller's wake-up that fired must count as gone even
 * though the clock reads just before its time: kept, it stood for a timer
 * that no longer existed, and a rollout waited for it for good (seen after
 * a manager kill -9 in `integration › slots`, issue 10). The same for the
 * scheduler's wake-up at the end of a slot's reschedule backoff.
 */
import test from 'ava';
import { SimulatedClock, type Clock, type TimerId } from '../../lib/supervision/index.js';
import { FakeLink, hello } from './helpers/fake-link.js';
import { drive, drivenManager as manager, reportOf as report } from './helpers/driven.js';

/** A simulated clock whose timers run `earlyMs` before their time (never sooner than 1 ms after they were set). */
class EarlyClock implements Clock {
  readonly #sim: SimulatedClock;
  constructor(start: number, readonly earlyMs: number) {
    this.#sim = new SimulatedClock(start);
  }
  now(): number {
    return this.#sim.now();
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    return this.#sim.setTimeout(fn, ms <= 1 ? ms : Math.max(1, ms - this.earlyMs));
  }
  clearTimeout(id: TimerId): void {
    this.#sim.clearTimeout(id);
  }
  advance(ms: number): Promise<void> {
    return this.#sim.advance(ms);
  }
}

test('a rollout goes on after each monitor period though every wake-up fires 3 ms early', async (t) => {
  const clock = new EarlyClock(1_000_000, 3);
  const m = await manager(t, clock);
  const a = new FakeLink(hello('a', [], 8));
  m.attachLink(a);
  await clock.advance(0);
  await m.putService({ name: 'web', replicas: 3, task: { command: ['sleep', '60'] } });
  await drive(clock, m, a, () => m.listTasks({ service: 'web' }).filter((x) => x.state === 'running').length === 3, 5_000);
  await m.putService({ name: 'web', replicas: 3, task: { command: ['sleep', '60'], env: { V: '2' } }, update: { parallelism: 1, monitorMs: 1_000 } });
  const took = await drive(clock, m, a, () => m.getService('web')?.update?.state === 'completed', 30_000);
  const update = m.getService('web')?.update;
  t.is(update?.state, 'completed', `after ${took} ms: ${JSON.stringify(update)}`);
  t.true(took < 6_000, `3 slots, 1 s of monitor each: ${took} ms`);
  const running = m.listTasks({ service: 'web' }).filter((x) => x.state === 'running' && x.desired === 'running');
  t.deepEqual(running.map((x) => x.spec.env['V']), ['2', '2', '2']);
});

test('a slot in its reschedule backoff is placed once the backoff ends though the wake-up fires 3 ms early', async (t) => {
  const clock = new EarlyClock(1_000_000, 3);
  const m = await manager(t, clock);
  const a = new FakeLink(hello('a'));
  m.attachLink(a);
  await clock.advance(0);
  await m.putService({ name: 'crash', replicas: 1, task: { command: ['false'] }, reschedule: { initialMs: 1_000, jitter: 0 } });
  await drive(clock, m, a, () => m.listTasks({ service: 'crash' }).some((x) => x.state === 'running'), 5_000);
  const [first] = m.listTasks({ service: 'crash' });
  a.report([report(first!, 'failed')]);
  await clock.advance(0);
  const next = m.listTasks({ service: 'crash' }).find((x) => x.generation === 2);
  t.is(next?.state, 'pending');
  t.is(next!.notBefore! - clock.now(), 1_000, 'a 1 s backoff');
  const took = await drive(clock, m, a, () => m.getTask(next!.id)?.state === 'running', 10_000);
  t.is(m.getTask(next!.id)?.state, 'running', `after ${took} ms: ${JSON.stringify(m.getTask(next!.id))}`);
  t.true(took <= 1_100, `placed as the backoff ended: ${took} ms`);
});
