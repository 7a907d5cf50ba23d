/**
 * The real clock's timers never fire before their time on `now()`. Node's
 * can, by however long the callback that set them had run (the event loop's
 * cached time): a caller keeping `at` and acting once `now() >= at` then
 * waited for good (issue 10: a rollout stalled after a manager restart).
 * Host timers driven by the test show the rule exactly; the real clock is
 * then checked against Node's own timers.
 */
import test from 'ava';
import { systemClock, wallClock, type HostTimers } from '../../lib/supervision/index.js';

/** Host timers the test fires by hand, reading a time the test sets (as Node's, they may fire before it is due). */
class HandTimers implements HostTimers {
  time = 1_000;
  armed: { id: number; fn: () => void; ms: number; unrefd: boolean }[] = [];
  #next = 1;
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { id: this.#next++, fn, ms, unrefd: false, unref: () => void (timer.unrefd = true) };
    this.armed.push(timer);
    return timer;
  }
  clearTimeout(handle: unknown): void {
    this.armed = this.armed.filter((t) => t !== handle);
  }
  /** Fires the oldest armed host timer, at the current time. */
  fire(): void {
    const t = this.armed.shift();
    if (!t) throw new Error('no timer armed');
    t.fn();
  }
}

test('a host timer that fires before the time is set again for what remains; the callback runs once, when due', (t) => {
  const host = new HandTimers();
  const clock = wallClock(host);
  let calls = 0;
  clock.setTimeout(() => calls++, 100);
  t.deepEqual(host.armed.map((x) => x.ms), [100]);
  host.time = 1_097; // fired 3 ms early
  host.fire();
  t.is(calls, 0);
  t.deepEqual(host.armed.map((x) => x.ms), [3], 'set again for the 3 ms left');
  host.time = 1_100;
  host.fire();
  t.is(calls, 1);
  t.is(host.armed.length, 0);
});

test('a timer that fires late or on time runs at once; a 0 ms timer too', (t) => {
  const host = new HandTimers();
  const clock = wallClock(host);
  const seen: string[] = [];
  clock.setTimeout(() => seen.push('late'), 50);
  clock.setTimeout(() => seen.push('zero'), 0);
  clock.setTimeout(() => seen.push('negative'), -5);
  host.time = 1_080;
  host.fire();
  host.fire();
  host.fire();
  t.deepEqual(seen, ['late', 'zero', 'negative']);
});

test('clearTimeout cancels a timer even after it was set again; unref() carries over to the new host timer', (t) => {
  const host = new HandTimers();
  const clock = wallClock(host);
  let calls = 0;
  const id = clock.setTimeout(() => calls++, 100);
  (id as { unref(): unknown }).unref();
  t.true(host.armed[0]!.unrefd);
  host.time = 1_099;
  host.fire();
  t.true(host.armed[0]!.unrefd, 'the timer set again is unref\'d as well');
  clock.clearTimeout(id);
  t.is(host.armed.length, 0);
  clock.clearTimeout(id); // twice, and unknown ids: ignored
  clock.clearTimeout(undefined);
  clock.clearTimeout(42);
  t.is(calls, 0);
});

test('a wall clock stepped back by more than the delay fires the timer rather than stretch it by the step', (t) => {
  const host = new HandTimers();
  const clock = wallClock(host);
  let calls = 0;
  clock.setTimeout(() => calls++, 1_000);
  host.time = 1_000 + 900 - 3_600_000; // 900 ms later, the clock was set back an hour
  host.fire();
  t.is(calls, 1);
});

test('the real clock: 3,000 short timers set at once, none runs before Date.now() reaches its time', async (t) => {
  // Node's own timers here: a few percent fire early against Date.now() when set in one long callback like this one.
  const early: number[] = [];
  await new Promise<void>((resolve) => {
    let left = 3_000;
    for (let i = 0; i < 3_000; i++) {
      const at = Date.now() + 1 + (i % 40);
      systemClock.setTimeout(() => {
        if (Date.now() < at) early.push(at - Date.now());
        if (--left === 0) resolve();
      }, at - Date.now());
    }
  });
  t.deepEqual(early, [], `${early.length} timers ran before their time`);
});
