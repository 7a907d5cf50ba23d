import test from 'ava';
import { SimulatedClock } from '../../lib/supervision/index.js';
import { AuthThrottle, bearerMatches } from '../../transport/auth.js';

test('bearerMatches accepts exactly the token', (t) => {
  t.true(bearerMatches('s3cret', 'Bearer s3cret'));
  t.true(bearerMatches('s3cret', 'bearer  s3cret'));
  t.false(bearerMatches('s3cret', 'Bearer s3cre'));
  t.false(bearerMatches('s3cret', 'Bearer s3cretX'));
  t.false(bearerMatches('s3cret', 's3cret'));
  t.false(bearerMatches('s3cret', 'Basic s3cret'));
  t.false(bearerMatches('s3cret', undefined));
  t.false(bearerMatches('s3cret', ''));
  t.false(bearerMatches('', 'Bearer '));
});

test('each recent failure doubles the wait, up to the cap', async (t) => {
  const clock = new SimulatedClock(1_000);
  const th = new AuthThrottle(clock, { baseMs: 50, maxMs: 2_000, decayMs: 1e9 });
  const waits: (number | null)[] = [];
  for (let i = 0; i < 8; i++) {
    waits.push(th.admit('1.2.3.4'));
    th.fail('1.2.3.4');
    await clock.advance(3_000); // past this attempt's slot
  }
  t.deepEqual(waits, [0, 50, 100, 200, 400, 800, 1_600, 2_000]);
  t.is(th.admit('5.6.7.8'), 0, 'other addresses are not slowed down');
});

test('attempts from one address are serialized; past the cap they are refused unevaluated', (t) => {
  const clock = new SimulatedClock();
  const th = new AuthThrottle(clock, { baseMs: 500, maxMs: 2_000 });
  th.fail('a');
  th.fail('a'); // 2 recent failures: 1000 ms each
  t.is(th.admit('a'), 1_000);
  t.is(th.admit('a'), 2_000, 'a parallel attempt waits for the previous one');
  t.is(th.admit('a'), null, 'a third would wait 3 s: refused');
});

test('the failure count decays: halves every decayMs', async (t) => {
  const clock = new SimulatedClock();
  const th = new AuthThrottle(clock, { baseMs: 10, maxMs: 2_000, decayMs: 1_000 });
  for (let i = 0; i < 4; i++) th.fail('a');
  t.is(th.failures('a'), 4);
  await clock.advance(1_000);
  t.is(th.failures('a'), 2);
  await clock.advance(1_000);
  t.is(th.failures('a'), 1);
  await clock.advance(1_000);
  t.is(th.failures('a'), 0);
  t.is(th.admit('a'), 0);
});

test('at most maxAddresses are remembered', (t) => {
  const th = new AuthThrottle(new SimulatedClock(), { maxAddresses: 3 });
  for (const a of ['a', 'b', 'c', 'd']) th.fail(a);
  t.is(th.size, 3);
  t.is(th.failures('a'), 0);
  t.is(th.failures('d'), 1);
});
