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

test('reschedule, update, rollback and taskHistory get their defaults; bad values name the field', (t) => {
  const s = normalizeServiceSpec({ name: 'echo', task: { image: 'goat/echo' }, update: { parallelism: 2 } });
  t.deepEqual(s.reschedule, { initialMs: 1_000, factor: 2, maxMs: 300_000, jitter: 0.2, resetAfterMs: 600_000, maxAttempts: 5, windowMs: 3_600_000 });
  t.like(s.update, { parallelism: 2, delayMs: 0, order: 'stop-first', monitorMs: 5_000, maxFailureRatio: 0, failureAction: 'pause' });
  t.like(s.rollback, { parallelism: 1, failureAction: 'pause' });
  t.is(s.taskHistory, 5);
  for (const [body, field] of [
    [{ update: { parallelism: 0 } }, 'update.parallelism'],
    [{ update: { order: 'sideways' } }, 'update.order'],
    [{ rollback: { failureAction: 'panic' } }, 'rollback.failureAction'],
    [{ update: { maxFailureRatio: 2 } }, 'update.maxFailureRatio'],
    [{ reschedule: { factor: 0.5 } }, 'reschedule.factor'],
    [{ reschedule: { initialMs: 10, maxMs: 5 } }, 'reschedule.maxMs'],
    [{ reschedule: { nope: 1 } }, 'reschedule'],
    [{ taskHistory: -1 }, 'taskHistory'],
  ] as const) {
    const e = t.throws(() => normalizeServiceSpec({ name: 'ok', task: { image: 'x' }, ...body }), { instanceOf: GoatError });
    t.is(e?.details['field'], field, JSON.stringify(body));
  }
});
