/** applyReportedFault: a worker's reported error and failure folded into the task record. */
import test from 'ava';
import { applyReportedFault, MAX_REPORTED_MESSAGE } from '../../lib/model/index.js';

const clean = { error: null, failure: null };

test('a reported error and failure are taken, and say they changed the record', (t) => {
  const r = applyReportedFault(clean, { error: { code: 'GOAT_ERR_RESOURCE', message: 'no runtime' }, failure: { kind: 'resource', message: 'no runtime', code: 'GOAT_ERR_RESOURCE' } });
  t.true(r.changed);
  t.deepEqual(r.fields, { error: { code: 'GOAT_ERR_RESOURCE', message: 'no runtime' }, failure: { kind: 'resource', message: 'no runtime', code: 'GOAT_ERR_RESOURCE' } });
});

test('absent fields keep the record; null clears the error but keeps the last failure', (t) => {
  const before = { error: { message: 'spawn ENOENT' }, failure: { kind: 'app' as const, message: 'spawn ENOENT' } };
  t.deepEqual(applyReportedFault(before, {}), { changed: false, fields: before });
  const running = applyReportedFault(before, { error: null, failure: null });
  t.true(running.changed);
  t.deepEqual(running.fields, { error: null, failure: before.failure });
});

test('long messages are cut', (t) => {
  const r = applyReportedFault(clean, { error: { message: 'x'.repeat(10_000) } });
  t.is(r.fields.error?.message.length, MAX_REPORTED_MESSAGE);
});
