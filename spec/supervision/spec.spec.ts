import test from 'ava';
import { DEFAULTS, GoatError } from '../../lib/index.js';
import { normalizeChildOptions, normalizeSupervisorFlags } from '../../lib/supervision/index.js';

test('defaults are applied once, from DEFAULTS', (t) => {
  const c = normalizeChildOptions({ id: 'a', backoff: { initialMs: 5 } });
  t.is(c.restart, DEFAULTS.child.restart);
  t.is(c.shutdownMs, DEFAULTS.child.shutdownMs);
  t.is(c.backoff.initialMs, 5);
  t.is(c.backoff.factor, DEFAULTS.child.backoff.factor);
  t.deepEqual(normalizeSupervisorFlags({}), { ...DEFAULTS.supervisor });
});

test('an invalid child spec names the field', (t) => {
  const err = t.throws(() => normalizeChildOptions({ id: 'a', restart: 'sometimes' as never }), { instanceOf: GoatError });
  t.is(err?.code, 'GOAT_ERR_INVALID_SPEC');
  t.is(err?.details['field'], 'restart');
  t.regex(err?.message ?? '', /child spec 'a': restart/);
});

test('nested fields are named with dots; ids must be URI-safe', (t) => {
  const e1 = t.throws(() => normalizeChildOptions({ id: 'a', backoff: { jitter: 3 } }), { instanceOf: GoatError });
  t.is(e1?.details['field'], 'backoff.jitter');
  const e2 = t.throws(() => normalizeChildOptions({ id: 'has space' }), { instanceOf: GoatError });
  t.is(e2?.details['field'], 'id');
  const e3 = t.throws(() => normalizeChildOptions({ id: 'a', backoff: { initialMs: 10, maxMs: 5 } }), { instanceOf: GoatError });
  t.is(e3?.details['field'], 'backoff.maxMs');
});

test('invalid supervisor flags name the field', (t) => {
  const err = t.throws(() => normalizeSupervisorFlags({ strategy: 'all_for_none' as never }), { instanceOf: GoatError });
  t.is(err?.details['field'], 'strategy');
  const e2 = t.throws(() => normalizeSupervisorFlags({ windowMs: 0 }), { instanceOf: GoatError });
  t.is(e2?.details['field'], 'windowMs');
});
