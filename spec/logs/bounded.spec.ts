import test from 'ava';
import { BoundedLines, mergeEvents, parseSince, formatLogEvent } from '../../lib/logs/index.js';
import { isGoatError } from '../../lib/errors.js';

const line = (text: string) => ({ stream: 'stdout' as const, at: 0, text });

test('a bounded buffer keeps its newest lines within both bounds and counts what it dropped', (t) => {
  const b = new BoundedLines(3, 1_000);
  b.push(['a', 'b', 'c', 'd', 'e'].map(line));
  t.is(b.size, 3);
  t.is(b.takeDropped(), 2);
  t.is(b.takeDropped(), 0);
  t.deepEqual(b.take(2).map((l) => l.text), ['c', 'd']);
  const bytes = new BoundedLines(100, 10);
  bytes.push(['12345', '67890', 'abc'].map(line));
  t.deepEqual(bytes.take(10).map((l) => l.text), ['67890', 'abc']);
  t.is(bytes.takeDropped(), 1);
  const big = new BoundedLines(100, 100);
  big.push(['xxxx', 'yyyy', 'zzzz'].map(line));
  t.deepEqual(big.take(10, 8).map((l) => l.text), ['xxxx', 'yyyy'], 'take stops at its byte limit');
});

test('merged event streams interleave as items arrive and end when all have ended', async (t) => {
  async function* slow(name: string, n: number, ms: number) {
    for (let i = 0; i < n; i++) {
      await new Promise((r) => setTimeout(r, ms));
      yield `${name}${i}`;
    }
  }
  const out: string[] = [];
  for await (const x of mergeEvents([slow('a', 3, 30), slow('b', 3, 45)])) out.push(x);
  t.is(out.length, 6);
  t.deepEqual(out.filter((x) => x.startsWith('a')), ['a0', 'a1', 'a2']);
  t.true(out.indexOf('b0') < out.indexOf('a2'), 'interleaved, not one after the other');
});

test('--since reads durations, ISO times and epoch ms; anything else is a usage error', (t) => {
  const now = 1_800_000_000_000;
  t.is(parseSince('10m', now), now - 600_000);
  t.is(parseSince('90s', now), now - 90_000);
  t.is(parseSince('2h', now), now - 7_200_000);
  t.is(parseSince('2026-11-30T14:00:00Z', now), Date.parse('2026-11-30T14:00:00Z'));
  t.is(parseSince('1700000000000', now), 1_700_000_000_000);
  const err = t.throws(() => parseSince('yesterday', now));
  t.true(isGoatError(err, 'GOAT_ERR_USAGE'));
});

test('log lines are shown with their stream marked, task prefix and time when asked', (t) => {
  const e = { type: 'line' as const, task: 'web.0.abc', stream: 'stderr' as const, at: Date.parse('2026-11-30T14:00:00Z'), text: 'oops' };
  t.is(formatLogEvent(e), 'err | oops\n');
  t.is(formatLogEvent({ ...e, stream: 'stdout' }, { prefix: true }), 'web.0.abc  out | oops\n');
  t.is(formatLogEvent(e, { timestamps: true }), '2026-11-30T14:00:00.000Z err | oops\n');
  t.is(formatLogEvent({ type: 'dropped', task: 'web.0.abc', count: 7 }), '[goat] 7 line(s) dropped: the reader did not keep up\n');
});
