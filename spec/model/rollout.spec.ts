import test from 'ava';
import { SERVICE_DEFAULTS, stepRollout, type RolloutObservation, type RolloutSpec } from '../../lib/model/index.js';

const spec = (over: Partial<RolloutSpec> = {}): RolloutSpec => ({ ...SERVICE_DEFAULTS.update, ...over });
const obs = (over: Partial<RolloutObservation> = {}): RolloutObservation => ({ version: 2, outdated: [0, 1, 2, 3], inflight: 0, started: 0, failures: [], canRollBack: true, ...over });
const updating = { state: 'updating' as const, message: 'update in progress', version: 2, startedAt: 0 };

test('a new version with outdated slots starts a rollout, parallelism slots at a time', (t) => {
  const s = stepRollout(null, obs(), spec({ parallelism: 2 }), 5);
  t.like(s.status, { state: 'updating', version: 2, startedAt: 5 });
  t.deepEqual(s.replace, [0, 1]);
  t.deepEqual(s.effects.map((e) => e.type === 'event' && e.event), ['update.started']);
});

test('a replica change (nothing outdated) is no rollout', (t) => {
  const s = stepRollout(null, obs({ outdated: [] }), spec(), 5);
  t.is(s.status, null);
  t.deepEqual(s.replace, []);
});

test('in flight up to parallelism: wait; wake when the monitor ends', (t) => {
  const s = stepRollout(updating, obs({ inflight: 1, monitorEndsAt: 900 }), spec(), 100);
  t.deepEqual(s.replace, []);
  t.is(s.wakeAt, 900);
});

test('delayMs after the last slot was done', (t) => {
  const early = stepRollout(updating, obs({ lastDoneAt: 100 }), spec({ delayMs: 1_000 }), 500);
  t.deepEqual(early.replace, []);
  t.is(early.wakeAt, 1_100);
  t.deepEqual(stepRollout(updating, obs({ lastDoneAt: 100 }), spec({ delayMs: 1_000 }), 1_100).replace, [0]);
});

test('failures over maxFailureRatio: pause, rollback or continue', (t) => {
  const failing = obs({ started: 4, failures: [{ taskId: 'web.0.x', why: 'exited with code 1' }] });
  t.like(stepRollout(updating, failing, spec({ maxFailureRatio: 0.25 }), 1).status, { state: 'updating' }, '1/4 is not over 0.25');
  const paused = stepRollout(updating, failing, spec(), 1);
  t.is(paused.status?.state, 'paused');
  t.regex(paused.status?.message ?? '', /^update paused: 1 of 4 new tasks failed .* web\.0\.x: exited with code 1/);
  const back = stepRollout(updating, failing, spec({ failureAction: 'rollback' }), 1);
  t.is(back.status?.state, 'rolling_back');
  t.true(back.effects.some((e) => e.type === 'rollback'));
  t.false(back.effects.some((e) => e.type === 'event' && (e.event as string) === 'update.rollback'), 'the manager records update.rollback as it rolls back: once');
  const noPrevious = stepRollout(updating, { ...failing, canRollBack: false }, spec({ failureAction: 'rollback' }), 1);
  t.regex(noPrevious.status?.message ?? '', /no previous spec/);
  t.deepEqual(stepRollout(updating, failing, spec({ failureAction: 'continue' }), 1).replace, [0]);
});

test('paused stays paused; a newer version resumes', (t) => {
  const paused = { ...updating, state: 'paused' as const };
  t.deepEqual(stepRollout(paused, obs(), spec(), 1).replace, []);
  const resumed = stepRollout(paused, obs({ version: 3 }), spec(), 1);
  t.like(resumed.status, { state: 'updating', version: 3 });
});

test('nothing outdated nor in flight: completed (rolled_back when rolling back)', (t) => {
  t.like(stepRollout(updating, obs({ outdated: [] }), spec(), 9).status, { state: 'completed', completedAt: 9, message: 'update completed' });
  t.like(stepRollout({ ...updating, state: 'rolling_back' }, obs({ outdated: [] }), spec(), 9).status, { state: 'rolled_back' });
});
