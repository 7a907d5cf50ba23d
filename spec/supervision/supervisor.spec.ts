import test from 'ava';
import {
  EventBus,
  SimulatedClock,
  Supervisor,
  sameHost,
  supervisorChild,
  type ChildOptionsInput,
  type ChildSpec,
  type SupervisorEvent,
  type SupervisorOptions,
} from '../../lib/supervision/index.js';
import { GoatError } from '../../lib/errors.js';
import { fakeWorld, type FakeWorld } from '../helpers/fake-child.js';

const NO_JITTER = { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0, resetAfterMs: 5000 };

interface Setup {
  clock: SimulatedClock;
  world: FakeWorld;
  events: SupervisorEvent[];
  sup: Supervisor<unknown>;
  types(): string[];
}

async function setup(
  children: (ChildOptionsInput | ((w: FakeWorld) => ChildSpec<unknown>))[],
  options: Partial<SupervisorOptions<unknown>> = {},
): Promise<Setup> {
  const clock = new SimulatedClock(1_000_000);
  const bus = new EventBus(clock);
  const events: SupervisorEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const world = fakeWorld();
  const specs = children.map((c) => (typeof c === 'function' ? c(world) : world.spec({ backoff: NO_JITTER, ...c })));
  const sup = new Supervisor<unknown>({ id: 'root', host: null, clock, bus, random: () => 0.5, children: specs, ...options });
  await sup.start();
  await clock.advance(0);
  return { clock, world, events, sup, types: () => events.map((e) => `${e.type}:${e.path.replace('/root/', '')}`) };
}

const ids = (...names: string[]): ChildOptionsInput[] => names.map((id) => ({ id }));

test('children start in order and show in the snapshot', async (t) => {
  const { world, sup } = await setup(ids('a', 'b', 'c'));
  t.deepEqual(world.log, ['start:a', 'start:b', 'start:c']);
  const snap = sup.snapshot();
  t.is(snap.path, '/root');
  t.is(snap.status, 'running');
  t.deepEqual(snap.children?.map((c) => [c.path, c.status, c.kind]), [
    ['/root/a', 'running', 'worker'],
    ['/root/b', 'running', 'worker'],
    ['/root/c', 'running', 'worker'],
  ]);
});

test('one_for_one: only the crashed child restarts, after its backoff', async (t) => {
  const { clock, world, types } = await setup(ids('a', 'b', 'c'));
  world.log.length = 0;
  world.crash('b');
  await clock.advance(99);
  t.deepEqual(world.log, [], 'nothing restarts before the delay');
  await clock.advance(1);
  t.deepEqual(world.log, ['start:b']);
  t.deepEqual(types().slice(3), ['child_crashed:b', 'restart_scheduled:b', 'child_restarted:b']);
});

test('one_for_all: the others stop in reverse start order, then all start in order', async (t) => {
  const { clock, world } = await setup(ids('a', 'b', 'c'), { strategy: 'one_for_all' });
  world.log.length = 0;
  world.crash('b');
  await clock.advance(0);
  t.deepEqual(world.log, ['shutdown:c', 'shutdown:a']);
  await clock.advance(100);
  t.deepEqual(world.log, ['shutdown:c', 'shutdown:a', 'start:a', 'start:b', 'start:c']);
});

test('rest_for_one: the children started after the crashed one restart with it', async (t) => {
  const { clock, world } = await setup(ids('a', 'b', 'c', 'd'), { strategy: 'rest_for_one' });
  world.log.length = 0;
  world.crash('b');
  await clock.advance(100);
  t.deepEqual(world.log, ['shutdown:d', 'shutdown:c', 'start:b', 'start:c', 'start:d']);
});

test('permanent children restart after a normal exit too', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'p', restart: 'permanent' }]);
  world.exit('p');
  await clock.advance(100);
  t.deepEqual(world.log, ['start:p', 'start:p']);
  t.is(sup.snapshot().children?.[0]?.status, 'running');
});

test('transient children: a normal exit leaves them stopped, a crash restarts them', async (t) => {
  const { clock, world, sup, types } = await setup([{ id: 'n', restart: 'transient' }, { id: 'x', restart: 'transient' }]);
  world.exit('n');
  world.crash('x');
  await clock.advance(1000);
  t.deepEqual(world.log, ['start:n', 'start:x', 'start:x']);
  t.deepEqual(sup.snapshot().children?.map((c) => c.status), ['stopped', 'running']);
  t.true(types().includes('child_stopped:n'));
});

test('temporary children are never restarted and are forgotten', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'tmp', restart: 'temporary' }, { id: 'keep' }]);
  world.crash('tmp');
  await clock.advance(1000);
  t.deepEqual(world.log, ['start:tmp', 'start:keep']);
  t.deepEqual(sup.childIds(), ['keep']);
});

test('the supervisor backoff grows 100, 200, 400 ms and resets after a stable run', async (t) => {
  const { clock, world, events } = await setup([{ id: 'a' }], { maxRestarts: 100, windowMs: 60_000 });
  const delays = (): number[] => events.flatMap((e) => (e.type === 'restart_scheduled' ? [e.delayMs] : []));
  for (let i = 0; i < 3; i++) {
    world.crash('a');
    await clock.advance(1000);
  }
  t.deepEqual(delays(), [100, 200, 400]);
  await clock.advance(5000); // a stable run of resetAfterMs
  world.crash('a');
  await clock.advance(1000);
  t.deepEqual(delays(), [100, 200, 400, 100]);
});

test('ten children crashing at once restart at jittered, distinct times within the bounds', async (t) => {
  let seed = 7;
  const random = (): number => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const children = Array.from({ length: 10 }, (_, i) => ({ id: `c${i}`, backoff: { ...NO_JITTER, initialMs: 1000, maxMs: 10_000, jitter: 0.2 } }));
  const { clock, world, events } = await setup(children, { random, maxRestarts: 20 });
  for (let i = 0; i < 10; i++) world.crash(`c${i}`);
  await clock.advance(0);
  const scheduled = events.flatMap((e) => (e.type === 'restart_scheduled' ? [e.delayMs] : []));
  t.is(scheduled.length, 10);
  t.true(new Set(scheduled).size >= 9, `delays should differ: ${scheduled.join(',')}`);
  t.true(Math.max(...scheduled) - Math.min(...scheduled) >= 100, `delays should spread: ${scheduled.join(',')}`);
  for (const d of scheduled) t.true(d >= 800 && d <= 1200, `${d} outside 1000±20%`);
  await clock.advance(1200);
  t.is(world.live.size, 10, 'all ten are back');
});

test('messages sent during the backoff are delivered in order after the restart', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'a' }]);
  const ref = sup.ref('a');
  t.is(ref.send('m0'), 'delivered');
  world.crash('a', 'boom', ['m1']); // m1 was still queued when it crashed
  t.is(ref.send('m2'), 'stashed');
  t.is(ref.send('m3'), 'stashed');
  await clock.advance(100);
  t.deepEqual(world.messages('a'), ['m0', 'm1', 'm2', 'm3']);
  t.is(ref.send('m4'), 'delivered');
});

test('stash overflow and sends to stopped or unknown children become dead letters', async (t) => {
  const { clock, world, sup, events } = await setup([{ id: 'a', stashLimit: 2 }, { id: 'once', restart: 'transient' }]);
  world.crash('a');
  t.deepEqual(['x', 'y', 'z'].map((m) => sup.ref('a').send(m)), ['stashed', 'stashed', 'dead']);
  world.exit('once');
  await clock.advance(100);
  t.is(sup.ref('once').send('late'), 'dead');
  t.is(sup.ref('ghost').send('boo'), 'dead');
  const dead = events.flatMap((e) => (e.type === 'dead_letter' ? [[e.path, e.reason, e.message]] : []));
  t.deepEqual(dead, [
    ['/root/a', 'stash_overflow', 'z'],
    ['/root/once', 'stopped', 'late'],
    ['/root/ghost', 'no_such_child', 'boo'],
  ]);
  t.deepEqual(world.messages('a'), ['x', 'y']);
});

test('the snapshot shows a pending restart: status, restarts in window, next restart, last error', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'a' }]);
  world.crash('a', 'database unreachable');
  await clock.advance(10);
  const a = sup.snapshot().children?.[0];
  t.is(a?.status, 'restarting');
  t.is(a?.restarts, 1);
  t.is(a?.nextRestartAt, clock.now() + 90);
  t.is(a?.lastError?.message, 'database unreachable');
  await clock.advance(90);
  t.is(sup.snapshot().children?.[0]?.status, 'running');
  await clock.advance(10_000);
  t.is(sup.snapshot().children?.[0]?.restarts, 0, 'the window slid past the restart');
});

test('past its budget the root stops its children in reverse order and reports a final error', async (t) => {
  const { clock, world, sup, events } = await setup(ids('a', 'b', 'c'), { maxRestarts: 2, windowMs: 1000 });
  world.crash('b');
  await clock.advance(100);
  world.crash('b');
  await clock.advance(200);
  t.is(sup.state, 'running');
  world.log.length = 0;
  world.crash('b');
  await clock.advance(0);
  t.deepEqual(world.log, ['shutdown:c', 'shutdown:a']);
  t.is(sup.state, 'failed');
  const last = events.at(-1);
  t.is(last?.type, 'escalated');
  if (last?.type === 'escalated') {
    t.true(last.final);
    t.is(last.to, null);
    t.is(last.error.code, 'GOAT_ERR_ESCALATED');
  }
  t.true(events.some((e) => e.type === 'budget_exceeded' && e.scope === 'supervisor'));
  const failure = await sup.whenFailed();
  t.is(failure.code, 'GOAT_ERR_ESCALATED');
  t.is(sup.ref('a').send('hello'), 'dead');
});

test('the budget window slides: spaced-out crashes never escalate', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'a' }], { maxRestarts: 2, windowMs: 1000 });
  for (let i = 0; i < 10; i++) {
    world.crash('a');
    await clock.advance(1001);
  }
  t.is(sup.state, 'running');
  t.is(world.log.filter((l) => l === 'start:a').length, 11);
});

test('a child budget fails that child alone; its siblings run on', async (t) => {
  const { clock, world, sup, events } = await setup([{ id: 'a', budget: { maxRestarts: 1, windowMs: 10_000 } }, { id: 'b' }]);
  world.crash('a');
  await clock.advance(100);
  world.crash('a');
  await clock.advance(1000);
  t.is(sup.state, 'running');
  t.deepEqual(sup.snapshot().children?.map((c) => c.status), ['failed', 'running']);
  t.true(events.some((e) => e.type === 'budget_exceeded' && e.scope === 'child' && e.path === '/root/a'));
  t.is(sup.snapshot().children?.[0]?.lastError?.code, 'GOAT_ERR_BUDGET_EXCEEDED');
});

test('a three-level escalation chain ends at the root with a final error event', async (t) => {
  const nested = (id: string, maxRestarts: number, children: ChildSpec<unknown>[]): ChildSpec<unknown> =>
    supervisorChild({ id, maxRestarts, windowMs: 10_000, backoff: NO_JITTER, children }, sameHost);
  const { clock, world, sup, events } = await setup(
    [(w) => nested('mid', 1, [nested('leaf', 0, [w.spec({ id: 'w', backoff: NO_JITTER })])])],
    { maxRestarts: 1, windowMs: 10_000 },
  );
  t.is(sup.snapshot().children?.[0]?.children?.[0]?.children?.[0]?.path, '/root/mid/leaf/w');
  for (let i = 0; i < 4; i++) {
    world.crash('w');
    await clock.advance(1000);
  }
  const escalations = events.flatMap((e) => (e.type === 'escalated' ? [[e.path, e.to, e.final]] : []));
  t.deepEqual(escalations, [
    ['/root/mid/leaf', '/root/mid', false],
    ['/root/mid/leaf', '/root/mid', false],
    ['/root/mid', '/root', false],
    ['/root/mid/leaf', '/root/mid', false],
    ['/root/mid/leaf', '/root/mid', false],
    ['/root/mid', '/root', false],
    ['/root', null, true],
  ]);
  t.is(sup.state, 'failed');
  t.is(world.live.size, 0, 'nothing is left running');
  t.is((await sup.whenFailed()).code, 'GOAT_ERR_ESCALATED');
});

test('a child that fails to start counts as a crash and is retried with backoff', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'a' }], { maxRestarts: 3, windowMs: 10_000 });
  world.failStart.add('a');
  world.crash('a');
  await clock.advance(100 + 200);
  t.deepEqual(world.log, ['start:a', 'failstart:a', 'failstart:a']);
  world.failStart.delete('a');
  await clock.advance(400);
  t.deepEqual(world.log.at(-1), 'start:a');
  t.is(sup.state, 'running');
});

test('a child that ignores shutdown is killed after shutdownMs', async (t) => {
  const { clock, world, sup, events } = await setup([{ id: 'stubborn', shutdownMs: 500 }, { id: 'quick' }]);
  world.hangOnShutdown.add('stubborn');
  const stopped = sup.stop();
  await clock.advance(499);
  t.false(world.log.includes('kill:stubborn'));
  await clock.advance(1);
  await stopped;
  t.deepEqual(world.log.slice(2), ['shutdown:quick', 'shutdown:stubborn', 'kill:stubborn']);
  const reasons = events.flatMap((e) => (e.type === 'child_stopped' ? [[e.path, e.reason]] : []));
  t.deepEqual(reasons, [['/root/quick', 'shutdown'], ['/root/stubborn', 'killed']]);
  t.is(sup.state, 'stopped');
});

test('children can be added and removed while running; duplicates are refused', async (t) => {
  const { world, sup } = await setup([]);
  const w = world;
  const ref = await sup.startChild(w.spec({ id: 'dyn' }));
  t.is(ref.path, '/root/dyn');
  t.is(ref.send('hi'), 'delivered');
  const err = await t.throwsAsync(sup.startChild(w.spec({ id: 'dyn' })), { instanceOf: GoatError });
  t.is(err?.code, 'GOAT_ERR_DUPLICATE_CHILD');
  await sup.stopChild('dyn');
  t.deepEqual(sup.childIds(), []);
  const e2 = await t.throwsAsync(sup.stopChild('dyn'), { instanceOf: GoatError });
  t.is(e2?.code, 'GOAT_ERR_NO_SUCH_CHILD');
});

test('asks fail fast on dead letters and time out on the supervisor clock', async (t) => {
  const { clock, sup } = await setup([{ id: 'a' }]);
  const dead = await t.throwsAsync(sup.ref('nobody').ask(() => 'ping', 1000), { instanceOf: GoatError });
  t.is(dead?.code, 'GOAT_ERR_DEAD_LETTER');
  const pending = sup.ref('a').ask(() => 'ping', 1000); // the fake never replies
  const assertion = t.throwsAsync(pending, { instanceOf: GoatError, message: /no reply from \/root\/a within 1000 ms/ });
  await clock.advance(1000);
  const timeout = await assertion;
  t.is(timeout?.code, 'GOAT_ERR_ASK_TIMEOUT');
  t.true(timeout?.temporary);
});

test('lookup finds children by absolute path, through nested supervisors', async (t) => {
  const { sup } = await setup([(w) => supervisorChild({ id: 'mid', children: [w.spec({ id: 'w' })] }, sameHost)]);
  t.is(sup.lookup('/root/mid/w')?.path, '/root/mid/w');
  t.is(sup.lookup('/root/mid/w')?.send('x'), 'delivered');
  t.is(sup.lookup('/root/nope'), undefined);
  t.is(sup.lookup('/other/mid'), undefined);
});

test('rest_for_one: when the crashed child cannot start, the later ones wait for it', async (t) => {
  const { clock, world } = await setup(ids('a', 'b', 'c'), { strategy: 'rest_for_one', maxRestarts: 10 });
  world.log.length = 0;
  world.failStart.add('b');
  world.crash('b');
  await clock.advance(100);
  t.deepEqual(world.log, ['shutdown:c', 'failstart:b'], 'c is not started while b cannot start');
  world.failStart.delete('b');
  await clock.advance(200);
  t.deepEqual(world.log, ['shutdown:c', 'failstart:b', 'start:b', 'start:c']);
});

test('rest_for_one: when the crashed child gives up, the later ones start anyway', async (t) => {
  const { clock, world, sup } = await setup([{ id: 'a' }, { id: 'b', budget: { maxRestarts: 1, windowMs: 60_000 } }, { id: 'c' }], { strategy: 'rest_for_one', maxRestarts: 10 });
  world.log.length = 0;
  world.failStart.add('b');
  world.crash('b');
  await clock.advance(1000);
  t.deepEqual(world.log, ['shutdown:c', 'failstart:b', 'start:c']);
  t.deepEqual(sup.snapshot().children?.map((c) => c.status), ['running', 'failed', 'running']);
});
