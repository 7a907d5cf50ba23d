import test from 'ava';
import { GoatError } from '../../lib/errors.js';
import { normalizeServiceSpec } from '../../lib/model/index.js';

test('a service gets one replica and the task defaults', (t) => {
  const s = normalizeServiceSpec({ name: 'echo', task: { image: 'goat/echo' } });
  t.is(s.replicas, 1);
  t.is(s.task.restart.policy, 'always');
});

test('errors name the field, task fields under task.', (t) => {
  const e1 = t.throws(() => normalizeServiceSpec({ name: 'Bad_Name', task: { image: 'x' } }), { instanceOf: GoatError });
  t.is(e1?.details['field'], 'name');
  const e2 = t.throws(() => normalizeServiceSpec({ name: 'ok', task: { image: 'x', ports: [{ container: 0 }] } }), { instanceOf: GoatError });
  t.is(e2?.details['field'], 'task.ports.0.container');
  const e3 = t.throws(() => normalizeServiceSpec({ name: 'ok', task: {} }), { instanceOf: GoatError });
  t.is(e3?.details['field'], 'task.image');
  t.regex(e3?.message ?? '', /task\.image:/);
  const e4 = t.throws(() => normalizeServiceSpec({ name: 'ok', replicas: -1, task: { image: 'x' } }), { instanceOf: GoatError });
  t.is(e4?.details['field'], 'replicas');
});
