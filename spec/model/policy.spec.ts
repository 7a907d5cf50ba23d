import test from 'ava';
import { childOptionsFor, normalizeTaskSpec, restartTypeOf } from '../../lib/model/index.js';

test('restart policies map onto OTP restart types', (t) => {
  t.is(restartTypeOf('no'), 'temporary');
  t.is(restartTypeOf('on-failure'), 'transient');
  t.is(restartTypeOf('always'), 'permanent');
  t.is(restartTypeOf('unless-stopped'), 'permanent');
});

test("a task's child options carry its own budget and backoff", (t) => {
  const spec = normalizeTaskSpec({ image: 'x', restart: { policy: 'on-failure', maxRestarts: 2, windowMs: 1000, backoff: { initialMs: 10 } }, stopTimeoutMs: 100 });
  const o = childOptionsFor('web.0.abc', spec);
  t.is(o.id, 'web.0.abc');
  t.is(o.restart, 'transient');
  t.deepEqual(o.budget, { maxRestarts: 2, windowMs: 1000 });
  t.is(o.backoff?.initialMs, 10);
  t.is(o.backoff?.maxMs, 60_000);
  t.is(o.shutdownMs, 5100);
});
