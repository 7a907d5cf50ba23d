import test from 'ava';
import { backoffDelay, baseDelay, nextAttempt, type BackoffOptions } from '../../lib/supervision/index.js';

const b: BackoffOptions = { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0, resetAfterMs: 60_000 };
const middle = (): number => 0.5;

test('without jitter the delays are 1, 2, 4, 8 … s, capped at maxMs', (t) => {
  const delays = Array.from({ length: 9 }, (_, i) => backoffDelay(i, b, middle));
  t.deepEqual(delays, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
});

test('a huge attempt number stays at the cap', (t) => {
  t.is(backoffDelay(10_000, b, middle), 60_000);
  t.is(baseDelay(10_000, b), 60_000);
});

test('jitter keeps each delay within ±jitter of its base and never above maxMs', (t) => {
  const j = { ...b, jitter: 0.2 };
  let seed = 42;
  const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const seen = new Set<number>();
  for (let attempt = 0; attempt < 8; attempt++) {
    const base = baseDelay(attempt, j);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(attempt, j, random);
      t.true(d >= Math.floor(base * 0.8) && d <= Math.ceil(base * 1.2), `attempt ${attempt}: ${d} outside ${base}±20%`);
      t.true(d <= j.maxMs);
      seen.add(d);
    }
  }
  t.true(seen.size > 100, 'jitter actually spreads the delays');
});

test('the extremes of the random source give the extremes of the jitter', (t) => {
  const j = { ...b, jitter: 0.2 };
  t.is(backoffDelay(0, j, () => 0), 800);
  t.is(backoffDelay(0, j, () => 0.999999), 1200);
  t.is(backoffDelay(10, j, () => 0.999999), 60_000, 'capped even with upward jitter');
});

test('a child that ran for resetAfterMs starts again from the first delay', (t) => {
  t.is(nextAttempt(5, 59_999, b), 5);
  t.is(nextAttempt(5, 60_000, b), 0);
});

test('backoff 0 restarts at once, however many restarts came before', (t) => {
  t.is(backoffDelay(3, { ...b, initialMs: 0 }, middle), 0);
  t.is(backoffDelay(5000, { ...b, initialMs: 0 }, middle), 0, 'no 0 × Infinity = NaN');
  t.is(backoffDelay(5000, { ...b, initialMs: 1 }, middle), 60_000);
});
