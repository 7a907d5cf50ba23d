/**
 * lib/supervision against OTP's `supervisor` documentation, rule by rule
 * (https://www.erlang.org/doc/apps/stdlib/supervisor.html). Each test quotes
 * the rule it checks. Fake children on the simulated clock; the nact twin is
 * spec/actors/supervision.spec.ts.
 */
import test from 'ava';
import { EventBus, SimulatedClock, Supervisor, sameHost, supervisorChild, type ChildOptionsInput, type SupervisorEvent, type SupervisorOptions } from '../../lib/supervision/index.js';
import { fakeWorld, type FakeWorld } from '../helpers/fake-child.js';

const NO_JITTER = { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0, resetAfterMs: 5000 };

async function setup(children: ChildOptionsInput[], options: Partial<SupervisorOptions<unknown>> = {}): Promise<{ clock: SimulatedClock; world: FakeWorld; sup: Supervisor<unknown>; events: SupervisorEvent[] }> {
  const clock = new SimulatedClock(1_000_000);
  const bus = new EventBus(clock);
  const events: SupervisorEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const world = fakeWorld();
  const sup = new Supervisor<unknown>({ id: 'root', host: null, clock, bus, random: () => 0.5, children: children.map((c) => world.spec({ backoff: NO_JITTER, ...c })), ...options });
  await sup.start();
  await clock.advance(0);
  world.log.length = 0;
  return { clock, world, sup, events };
}

const statuses = (sup: Supervisor<unknown>): string[] => (sup.snapshot().children ?? []).map((c) => `${c.id}:${c.status}`);

test('"a temporary child process is never restarted (even when a sibling\'s death causes it to be terminated)": one_for_all', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'a' }, { id: 'tmp', restart: 'temporary' }, { id: 'c' }], { strategy: 'one_for_all' });
  world.crash('a');
  await clock.advance(1000);
  t.deepEqual(world.log, ['shutdown:c', 'shutdown:tmp', 'start:a', 'start:c'], 'tmp is terminated in reverse order, never started again');
  t.deepEqual(sup.childIds(), ['a', 'c'], 'and removed, as OTP removes a terminated temporary child');
  t.deepEqual(statuses(sup), ['a:running', 'c:running']);
});

test('"a temporary child process is never restarted": rest_for_one terminates the later temporary child and removes it', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'before', restart: 'temporary' }, { id: 'b' }, { id: 'tmp', restart: 'temporary' }, { id: 'd' }], { strategy: 'rest_for_one' });
  world.crash('b');
  await clock.advance(1000);
  t.deepEqual(world.log, ['shutdown:d', 'shutdown:tmp', 'start:b', 'start:d']);
  t.deepEqual(sup.childIds(), ['before', 'b', 'd'], 'the temporary child before the crashed one is untouched');
  t.true(world.live.has('before'));
});

test('a temporary child terminated by its group never counts towards the restart intensity', async (t) => {
  // maxRestarts 1: one group restart is allowed; had tmp counted, the group restart would escalate.
  const { clock, world, sup } = await setup([{ id: 'a' }, { id: 'tmp', restart: 'temporary' }], { strategy: 'one_for_all', maxRestarts: 1, windowMs: 10_000 });
  world.crash('a');
  await clock.advance(1000);
  t.is(sup.state, 'running');
  t.is(sup.snapshot().restarts, 1, 'a group restart is one restart');
});

test('"transient: restarted only if it terminates abnormally" — normal and shutdown exits are not restarts', async (t) => {
  const { clock, world, sup, events } = await setup([{ id: 'n', restart: 'transient' }, { id: 's', restart: 'transient' }, { id: 'e', restart: 'transient' }], { maxRestarts: 1 });
  world.exit('n', { type: 'normal' });
  world.exit('s', { type: 'shutdown' });
  world.crash('e');
  await clock.advance(1000);
  t.deepEqual(world.log, ['start:e']);
  t.deepEqual(statuses(sup), ['n:stopped', 's:stopped', 'e:running']);
  t.is(events.filter((e) => e.type === 'restart_scheduled').length, 1, 'only the abnormal exit counts towards intensity');
  t.is(sup.state, 'running');
});

test('"permanent: always restarted" — after a normal exit and after a shutdown exit', async (t) => {
  const { clock, world } = await setup([{ id: 'p' }], { maxRestarts: 10 });
  world.exit('p', { type: 'normal' });
  await clock.advance(1000);
  world.exit('p', { type: 'shutdown' });
  await clock.advance(1000);
  t.deepEqual(world.log, ['start:p', 'start:p']);
});

test('one_for_all: "all other child processes are terminated and then all child processes are restarted" — a transient sibling that had exited normally too', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'a' }, { id: 'done', restart: 'transient' }, { id: 'c' }], { strategy: 'one_for_all' });
  world.exit('done');
  await clock.advance(1000);
  t.deepEqual(statuses(sup), ['a:running', 'done:stopped', 'c:running']);
  world.crash('c');
  await clock.advance(1000);
  t.deepEqual(world.log, ['shutdown:a', 'start:a', 'start:done', 'start:c']);
});

test('rest_for_one: "the rest of the child processes (those after the terminated one in start order) are terminated, then it and they are restarted"; earlier ones keep running', async (t) => {
  const { clock, world } = await setup([{ id: 'a' }, { id: 'b' }, { id: 'c' }], { strategy: 'rest_for_one' });
  world.crash('c');
  await clock.advance(1000);
  t.deepEqual(world.log, ['start:c'], 'the last child restarts alone');
  world.log.length = 0;
  world.crash('a');
  await clock.advance(1000);
  t.deepEqual(world.log, ['shutdown:c', 'shutdown:b', 'start:a', 'start:b', 'start:c']);
});

test('intensity/period: "if more than MaxR restarts occur within MaxT", MaxR restarts are fine, one more terminates the supervisor', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'a' }], { maxRestarts: 3, windowMs: 10_000 });
  for (let i = 0; i < 3; i++) {
    world.crash('a');
    await clock.advance(1000);
  }
  t.is(sup.state, 'running', 'exactly MaxR restarts within the period');
  world.crash('a');
  await clock.advance(0);
  t.is(sup.state, 'failed');
  t.is((await sup.whenFailed()).code, 'GOAT_ERR_ESCALATED');
});

test('intensity 0: "no restarts are allowed" — the first crash terminates the supervisor', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'a' }, { id: 'b' }], { maxRestarts: 0 });
  world.crash('a');
  await clock.advance(0);
  t.is(sup.state, 'failed');
  t.deepEqual(world.log, ['shutdown:b']);
});

test('intensity/period: restarts that left the period no longer count', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'a' }], { maxRestarts: 2, windowMs: 5_000 });
  world.crash('a');
  await clock.advance(1000);
  world.crash('a');
  await clock.advance(4100); // the first restart is now older than the period
  world.crash('a');
  await clock.advance(1000);
  t.is(sup.state, 'running');
});

test('shutdown: "the supervisor terminates all children in reverse start order", and its own stop waits for them', async (t) => {
  const { world, sup } = await setup([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
  await sup.stop();
  t.deepEqual(world.log, ['shutdown:c', 'shutdown:b', 'shutdown:a']);
  t.is(sup.state, 'stopped');
});

test('escalation: the supervisor "terminates all the child processes and then itself", and its parent restarts it as a child', async (t) => {
  const clock = new SimulatedClock(1_000_000);
  const world = fakeWorld();
  const inner = supervisorChild({ id: 'inner', maxRestarts: 1, windowMs: 10_000, backoff: NO_JITTER, children: [world.spec({ id: 'x', backoff: NO_JITTER }), world.spec({ id: 'y', backoff: NO_JITTER })] }, sameHost);
  const sup = new Supervisor<unknown>({ id: 'root', host: null, clock, random: () => 0.5, maxRestarts: 5, windowMs: 10_000, children: [inner] });
  await sup.start();
  world.log.length = 0;
  world.crash('x');
  await clock.advance(1000);
  world.crash('x');
  await clock.advance(0);
  t.deepEqual(world.log, ['start:x', 'shutdown:y'], 'the inner supervisor stopped y, then itself');
  await clock.advance(1000);
  t.is(sup.state, 'running', 'the parent restarted the escalated supervisor');
  t.deepEqual(sup.snapshot().children?.[0]?.children?.map((c) => c.status), ['running', 'running']);
  t.deepEqual(world.log, ['start:x', 'shutdown:y', 'start:x', 'start:y']);
  t.is(sup.snapshot().children?.[0]?.restarts, 1);
});
