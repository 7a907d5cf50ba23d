import test from 'ava';
import { decide, type RestartAction, normalizeChildOptions, normalizeSupervisorFlags, type ExitReason, type RestartHistory } from '../../lib/supervision/index.js';

const normal: ExitReason = { type: 'normal' };
const shutdown: ExitReason = { type: 'shutdown' };
const crash: ExitReason = { type: 'error', error: { name: 'Error', message: 'boom' } };
const flags = normalizeSupervisorFlags({ maxRestarts: 3, windowMs: 1000 });
const fresh: RestartHistory = { supervisorRestarts: [], childRestarts: [], consecutive: 0, startedAt: 0 };
const half = (): number => 0.5;
const child = (restart: 'permanent' | 'transient' | 'temporary', extra = {}) =>
  normalizeChildOptions({ id: 'c', restart, backoff: { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0, resetAfterMs: 5000 }, ...extra });

const table: [string, 'permanent' | 'transient' | 'temporary', ExitReason, RestartAction][] = [
  ['permanent + normal', 'permanent', normal, 'restart'],
  ['permanent + shutdown', 'permanent', shutdown, 'restart'],
  ['permanent + crash', 'permanent', crash, 'restart'],
  ['transient + normal', 'transient', normal, 'ignore'],
  ['transient + shutdown', 'transient', shutdown, 'ignore'],
  ['transient + crash', 'transient', crash, 'restart'],
  ['temporary + normal', 'temporary', normal, 'ignore'],
  ['temporary + shutdown', 'temporary', shutdown, 'ignore'],
  ['temporary + crash', 'temporary', crash, 'ignore'],
];
for (const [name, restart, reason, action] of table) {
  test(`restart type: ${name} → ${action}`, (t) => {
    const d = decide(reason, child(restart), fresh, 10, flags, half);
    t.is(d.action, action);
    t.is(typeof d.why, 'string');
    t.true(d.why.length > 0);
  });
}

test('the first restart waits initialMs; consecutive ones grow by the factor', (t) => {
  const c = child('permanent');
  const delays: number[] = [];
  let consecutive = 0;
  for (let i = 0; i < 5; i++) {
    const d = decide(crash, c, { ...fresh, consecutive, startedAt: 100 * i }, 100 * i + 1, { ...flags, maxRestarts: 100 }, half);
    t.is(d.action, 'restart');
    delays.push(d.delayMs);
    consecutive = d.attempt + 1;
  }
  t.deepEqual(delays, [100, 200, 400, 800, 1000]);
});

test('a stable run (resetAfterMs) resets the backoff', (t) => {
  const d = decide(crash, child('permanent'), { ...fresh, consecutive: 4, startedAt: 0 }, 5000, flags, half);
  t.is(d.delayMs, 100);
  t.is(d.attempt, 0);
});

test('inside the window the supervisor budget escalates; later it slides', (t) => {
  const h = { ...fresh, supervisorRestarts: [100, 200, 300] };
  t.is(decide(crash, child('permanent'), h, 400, flags, half).action, 'escalate');
  t.is(decide(crash, child('permanent'), h, 1101, flags, half).action, 'restart', 'the restart at 100 left the window');
});

test('a child budget gives up on that child only, before the supervisor budget', (t) => {
  const c = child('permanent', { budget: { maxRestarts: 2, windowMs: 10_000 } });
  const h = { ...fresh, childRestarts: [100, 200], supervisorRestarts: [100, 200, 300] };
  const d = decide(crash, c, h, 400, flags, half);
  t.is(d.action, 'give_up');
  t.regex(d.why, /child budget/);
});

test('temporary children never count against budgets', (t) => {
  const h = { ...fresh, supervisorRestarts: [100, 200, 300] };
  t.is(decide(crash, child('temporary'), h, 400, flags, half).action, 'ignore');
});

test('the decision is pure: same inputs, same output', (t) => {
  const args = [crash, child('permanent'), fresh, 10, flags, half] as const;
  t.deepEqual(decide(...args), decide(...args));
});
