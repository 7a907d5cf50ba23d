import test from 'ava';
import { FRESH_SLOT, SERVICE_DEFAULTS, decideSlot, type SlotSupervision } from '../../lib/model/index.js';

const spec = SERVICE_DEFAULTS.reschedule;
const half = (): number => 0.5; // no jitter
const fail = (node = 'n1', startedAt = 0) => ({ type: 'failed' as const, node, error: 'boom', startedAt });

test('failures back off 1 s, 2 s, 4 s …; the node it failed on is avoided', (t) => {
  let s: SlotSupervision = FRESH_SLOT;
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    const now = 1_000 + i * 100;
    const d = decideSlot(s, fail('n1', now - 50), spec, now, half);
    t.is(d.avoid, 'n1');
    t.false(d.alert);
    delays.push(d.delayMs);
    s = d.state;
  }
  t.deepEqual(delays, [1_000, 2_000, 4_000, 8_000]);
});

test('a task that ran resetAfterMs starts the backoff again', (t) => {
  const s = { failures: [1], consecutive: 4, escalated: false };
  t.is(decideSlot(s, fail('n1', 0), spec, 600_000, half).delayMs, 1_000);
});

test('more than maxAttempts failures within windowMs: one alert, then maxMs each time, never a hot loop', (t) => {
  let s: SlotSupervision = FRESH_SLOT;
  const alerts: boolean[] = [];
  for (let i = 0; i < 8; i++) {
    const d = decideSlot(s, fail(), spec, 10 + i, half);
    alerts.push(d.alert);
    if (i >= 5) t.is(d.delayMs, spec.maxMs);
    t.true(d.delayMs >= 1_000);
    s = d.state;
  }
  t.deepEqual(alerts, [false, false, false, false, false, true, false, false]);
  t.true(s.escalated);
});

test('failures leave the window: the budget is back', (t) => {
  const s = { failures: [0, 1, 2, 3, 4], consecutive: 5, escalated: true };
  const d = decideSlot(s, fail('n1', 3_600_010), spec, 3_600_010 + spec.resetAfterMs, half);
  t.false(d.state.escalated);
  t.is(d.delayMs, 1_000);
});

test('lost and stopped: at once, history kept; a new spec clears it', (t) => {
  const s = { failures: [5], consecutive: 1, escalated: true };
  t.deepEqual(decideSlot(s, { type: 'lost' }, spec, 10, half), { state: s, delayMs: 0, avoid: null, alert: false, why: '' });
  t.is(decideSlot(s, { type: 'stopped' }, spec, 10, half).delayMs, 0);
  t.deepEqual(decideSlot(s, { type: 'spec_changed' }, spec, 10, half).state, { failures: [], consecutive: 0, escalated: false });
});
