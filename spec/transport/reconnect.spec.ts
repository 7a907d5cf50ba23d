import test from 'ava';
import { jittered, reconnectDelay, RECONNECT_DEFAULTS } from '../../transport/reconnect.js';

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

test('full jitter: every delay lies in [0, min(maxMs, initialMs × 2^attempt)]', (t) => {
  const random = lcg(7);
  const b = { initialMs: 500, maxMs: 30_000 };
  for (let attempt = 0; attempt < 40; attempt++) {
    const cap = Math.min(b.maxMs, b.initialMs * 2 ** attempt);
    for (let i = 0; i < 50; i++) {
      const d = reconnectDelay(attempt, b, random);
      t.true(d >= 0 && d <= cap && Number.isInteger(d), `attempt ${attempt}: ${d} outside [0, ${cap}]`);
    }
  }
  t.is(reconnectDelay(1_000_000, b, () => 0.999_999), 29_999);
  t.is(reconnectDelay(0, b, () => 0), 0);
  t.deepEqual(RECONNECT_DEFAULTS, { initialMs: 500, maxMs: 30_000 });
});

test('500 workers reconnecting at once spread over the whole window', (t) => {
  const random = lcg(12345);
  const b = { initialMs: 500, maxMs: 30_000 };
  for (const attempt of [0, 3, 10]) {
    const cap = Math.min(b.maxMs, b.initialMs * 2 ** attempt);
    const delays = Array.from({ length: 500 }, () => reconnectDelay(attempt, b, random));
    const min = Math.min(...delays);
    const max = Math.max(...delays);
    t.true(min < cap * 0.05, `attempt ${attempt}: min ${min}`);
    t.true(max > cap * 0.95, `attempt ${attempt}: max ${max}`);
    // No tenth of the window gets more than twice its fair share (50).
    const buckets = new Array<number>(10).fill(0);
    for (const d of delays) buckets[Math.min(9, Math.floor((d / cap) * 10))]! += 1;
    t.true(Math.max(...buckets) < 100, `attempt ${attempt}: buckets ${buckets.join(' ')}`);
    if (cap >= 10_000) t.true(new Set(delays).size > 450, 'hardly any two workers pick the same ms');
  }
});

test('heartbeat jitter stays within ±10 %', (t) => {
  t.is(jittered(1_000, 0.1, () => 0), 900);
  t.is(jittered(1_000, 0.1, () => 0.5), 1_000);
  t.is(jittered(1_000, 0.1, () => 0.999_999), 1_100);
});
