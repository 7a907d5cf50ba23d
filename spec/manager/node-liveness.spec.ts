/**
 * A node's liveness: the pure step (no timers: events with their times in,
 * status changes out), then a real manager on a simulated clock with a link
 * attached without a network — silence, recovery and the restart grace,
 * exact to the millisecond because nothing sleeps.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager, STORE_LOST_RESYNC_MS } from '../../actors/manager/manager.js';
import { detectorConfig, type ClusterEvent } from '../../lib/model/index.js';
import { linkedLiveness, livenessStep, recoveringLiveness, type LivenessEvent, type LivenessState } from '../../lib/manager/index.js';
import { openSqliteStore } from '../../lib/store/index.js';
import { SimulatedClock } from '../../lib/supervision/index.js';
import { node } from '../store/helpers.js';
import { FakeLink, hello } from './helpers/fake-link.js';

const config = detectorConfig({ heartbeatMs: 100, downAfterMs: 1_000 });

/** Runs events through the step; returns the effects, one string each. */
function run(state: LivenessState, events: LivenessEvent[]): { state: LivenessState; effects: string[] } {
  const effects: string[] = [];
  for (const e of events) {
    const r = livenessStep(config, state, e);
    state = r.state;
    for (const x of r.effects) effects.push(`${'at' in e ? e.at : '-'}:${x.type}`);
  }
  return { state, effects };
}

const check = (at: number, lateMs = 0): LivenessEvent => ({ type: 'check', at, lateMs });

test('step: a linked node that goes silent is suspect at 2 intervals, ready at its next heartbeat, down at the down timeout', (t) => {
  const { effects, state } = run(linkedLiveness(0), [check(150), check(200), check(250), { type: 'heartbeat', at: 300 }, check(500), check(1_250), check(1_300)]);
  t.deepEqual(effects, ['200:suspect', '300:ready', '500:suspect', '1300:down']);
  t.true(state.down);
  t.deepEqual(run(state, [check(2_000), { type: 'heartbeat', at: 2_100 }]).effects, [], 'a down node waits for a new hello');
});

test('step: an unlinked node is suspect at once and down counting from its last heartbeat, not from the close', (t) => {
  const { effects } = run(linkedLiveness(0), [{ type: 'heartbeat', at: 100 }, { type: 'unlinked' }, check(1_050), check(1_100)]);
  t.deepEqual(effects, ['-:suspect', '1100:down']);
});

test('step: the manager\'s own stalls are not the node\'s silence', (t) => {
  // The check due at 200 ran at 2_200: a 2 s stall. Heartbeats sent meanwhile wait in the socket.
  const { effects } = run(linkedLiveness(0), [{ type: 'heartbeat', at: 100 }, check(2_200, 2_000), { type: 'heartbeat', at: 2_210 }, check(2_300)]);
  t.deepEqual(effects, [], 'no suspect, no down');
});

test('step: a node known from before a restart is never down during the recovery grace', (t) => {
  const { effects } = run(recoveringLiveness(0, 3_000), [check(1_500), check(2_990), check(3_000)]);
  t.deepEqual(effects, ['3000:down']);
  t.deepEqual(run(recoveringLiveness(0, 3_000), [check(1_000), { type: 'linked', at: 1_200 }, check(1_500), check(2_200)]).effects, ['1500:suspect', '2200:down'], 'once linked, judged like any node, grace or not');
});

async function manager(t: { teardown(f: () => Promise<void>): void }, clock: SimulatedClock, dataDir?: string): Promise<Manager> {
  const dir = dataDir ?? await mkdtemp(join(tmpdir(), 'goat-liveness-'));
  const m = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: 'test-token-123456', logger: { info: () => undefined, warn: () => undefined }, clock, heartbeatMs: 100, downAfterMs: 1_000, recoveryGraceMs: 0 });
  t.teardown(async () => {
    await m.stop();
    if (!dataDir) await rm(dir, { recursive: true, force: true });
  });
  return m;
}

function statusLog(m: Manager): string[] {
  const seen: string[] = [];
  m.subscribeEvents((e: ClusterEvent) => void (e.type === 'node.status' && seen.push(`${e.subject}:${String(e.data.status)}`)));
  return seen;
}

test('manager on a simulated clock: silent → suspect → ready → down (link closed) → back with a new hello', async (t) => {
  const clock = new SimulatedClock(1_000_000);
  const m = await manager(t, clock);
  const seen = statusLog(m);
  const a = new FakeLink(hello('a'));
  m.attachLink(a);
  await clock.advance(0);
  t.is(m.listNodes()[0]?.status, 'ready');
  await clock.advance(200);
  t.is(m.listNodes()[0]?.status, 'ready', 'a check runs every 250 ms: not yet seen silent');
  await clock.advance(50);
  t.is(m.listNodes()[0]?.status, 'suspect', 'silent 2 intervals');
  a.beat();
  await clock.advance(0);
  t.is(m.listNodes()[0]?.status, 'ready', 'a heartbeat makes it ready at once');
  await clock.advance(1_000);
  t.is(m.listNodes()[0]?.status, 'down');
  t.deepEqual(seen, ['a:ready', 'a:suspect', 'a:ready', 'a:suspect', 'a:down']);
  t.is(a.closed?.code, 4008, 'its link is closed: it must say hello again');
  t.false(m.isLinked('a'));
  m.attachLink(new FakeLink(hello('a')));
  await clock.advance(0);
  t.is(m.listNodes()[0]?.status, 'ready', 'a new hello brings it back');
});

test('manager on a simulated clock: after a restart, known nodes are suspect and none is down during the recovery grace', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-liveness-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = openSqliteStore(join(dir, 'goat.db'));
  store.putNode(node('old', { status: 'ready' }));
  store.close();
  const clock = new SimulatedClock(1_000_000);
  const m = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: 'test-token-123456', logger: { info: () => undefined, warn: () => undefined }, clock, heartbeatMs: 100, downAfterMs: 1_000 });
  t.teardown(() => m.stop());
  await clock.advance(0);
  t.is(m.listNodes()[0]?.status, 'suspect');
  await clock.advance(1_900);
  t.is(m.listNodes()[0]?.status, 'suspect', 'not down during the grace (2 × downAfterMs), though silent past the down timeout');
  await clock.advance(250);
  t.is(m.listNodes()[0]?.status, 'down', 'down when the grace is over');
});

test('manager on a simulated clock: disconnect.lostAfterMs keeps a down node\'s task unknown exactly that long; replace false waits for the node', async (t) => {
  const clock = new SimulatedClock(1_000_000);
  const m = await manager(t, clock);
  const a = new FakeLink(hello('a'));
  m.attachLink(a);
  await clock.advance(0);
  await m.putService({ name: 'patient', replicas: 1, task: { command: ['sleep', '60'], disconnect: { lostAfterMs: 2_000 } } });
  await m.putService({ name: 'pinned', replicas: 1, task: { command: ['sleep', '60'], disconnect: { replace: false } } });
  await clock.advance(0);
  const [patient] = m.listTasks({ service: 'patient' });
  const [pinned] = m.listTasks({ service: 'pinned' });
  a.report([patient!, pinned!].map((x) => ({ taskId: x.id, service: x.service, slot: 0, generation: 1, state: 'running' as const, restarts: 0 })));
  await clock.advance(0);
  a.close(1006, 'cut');
  await clock.advance(1_000); // down 1 s after its last sign of life
  t.is(m.listNodes()[0]?.status, 'down');
  t.is(m.getTask(patient!.id)?.state, 'unknown');
  t.is(m.getTask(pinned!.id)?.state, 'unknown');
  await clock.advance(1_990);
  t.is(m.getTask(patient!.id)?.state, 'unknown', 'not lost before lostAfterMs');
  t.is(m.listTasks({ service: 'patient' }).length, 1, 'not re-placed while unknown');
  await clock.advance(10);
  t.is(m.getTask(patient!.id)?.state, 'lost', 'lost at lostAfterMs');
  t.is(m.listTasks({ service: 'patient' }).length, 2, 'and its slot re-placed');
  await clock.advance(60_000);
  t.is(m.getTask(pinned!.id)?.state, 'unknown', 'replace false: still waiting for its node');
  t.is(m.listTasks({ service: 'pinned' }).length, 1, 'never duplicated');
  const back = new FakeLink(hello('a', [{ taskId: pinned!.id, service: 'pinned', slot: 0, generation: 1, state: 'running', restarts: 0 }]));
  m.attachLink(back);
  await clock.advance(0);
  t.is(m.getTask(pinned!.id)?.state, 'running', 'adopted back');
});

test('worker loss re-places at once: the slot\'s next task is assigned at the very moment its node is down, no backoff (simulated clock, default detector)', async (t) => {
  const clock = new SimulatedClock(1_000_000);
  const dir = await mkdtemp(join(tmpdir(), 'goat-liveness-'));
  const m = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: 'test-token-123456', logger: { info: () => undefined, warn: () => undefined }, clock, recoveryGraceMs: 0 });
  t.teardown(async () => {
    await m.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const { heartbeatMs, downAfterMs } = detectorConfig();
  const events: ClusterEvent[] = [];
  m.subscribeEvents((e: ClusterEvent) => void events.push(e));
  const links = new Map(['a', 'b'].map((id) => [id, new FakeLink(hello(id))]));
  for (const l of links.values()) m.attachLink(l);
  await clock.advance(0);
  await m.putService({ name: 'web', replicas: 1, task: { command: ['sleep', '60'] } });
  await clock.advance(0);
  const [first] = m.listTasks({ service: 'web' });
  t.is(first?.state, 'assigned');
  const lostNode = first!.node!;
  const [other, survivor] = [...links].find(([id]) => id !== lostNode)!;
  const gone = links.get(lostNode)!;
  gone.report([{ taskId: first!.id, service: 'web', slot: 0, generation: 1, state: 'running', restarts: 0 }]);
  gone.beat();
  survivor.beat();
  await clock.advance(0);
  t.is(m.getTask(first!.id)?.state, 'running');
  // The worker's machine is lost: its link drops, no heartbeat any more; the other node keeps beating.
  const lostAt = clock.now();
  gone.close(1006, 'machine lost');
  while (m.listNodes().find((n) => n.id === lostNode)?.status !== 'down' && clock.now() - lostAt < 4 * downAfterMs) {
    await clock.advance(heartbeatMs / 4);
    survivor.beat();
  }
  const down = events.find((e) => e.type === 'node.status' && e.subject === lostNode && e.data.status === 'down');
  t.truthy(down, 'the node is declared down');
  t.true(down!.at - lostAt <= downAfterMs + heartbeatMs, `down ${down!.at - lostAt} ms after the loss: within downAfterMs + a heartbeat`);
  await clock.advance(0);
  t.is(m.getTask(first!.id)?.state, 'lost');
  const next = m.listTasks({ service: 'web' }).find((x) => x.generation === 2);
  t.is(next?.notBefore, undefined, 'no reschedule backoff for a lost task');
  t.is(next?.createdAt, down!.at, 'created as the node went down');
  const assigned = events.find((e) => e.type === 'task.state' && e.subject === next?.id && e.data.state === 'assigned');
  t.is(assigned?.data.node, other);
  t.is(assigned!.at - down!.at, 0, 'assigned at the same simulated instant: no delay');
  t.false(events.some((e) => e.type === 'slot.backoff'));
});

test('manager on a simulated clock: a lost group of writes makes every worker say hello again, at most once per STORE_LOST_RESYNC_MS (a failing disk does not make the links flap)', async (t) => {
  const clock = new SimulatedClock(1_000_000);
  const m = await manager(t, clock);
  const links: FakeLink[] = [];
  const attach = (): FakeLink => {
    const l = new FakeLink(hello('a'));
    links.push(l);
    m.attachLink(l);
    return l;
  };
  /** Advances the clock with the current link beating every 100 ms (alive, never declared down). */
  const live = async (ms: number): Promise<void> => {
    for (let left = ms; left > 0; left -= 100) {
      links[links.length - 1]!.beat();
      await clock.advance(Math.min(100, left));
    }
  };
  const first = attach();
  await clock.advance(0);
  m.storeLost();
  t.is(first.closed?.code, 4010, 'RESYNC: what the lost group held is asked again in the next hello');
  const second = attach();
  await clock.advance(100);
  m.storeLost();
  m.storeLost();
  t.is(second.closed, null, 'a second loss within the interval waits');
  await live(STORE_LOST_RESYNC_MS - 200);
  t.is(second.closed, null);
  await live(100);
  t.is(second.closed?.code, 4010, 'one resync at the end of the interval answers the losses meanwhile');
  const third = attach();
  await live(STORE_LOST_RESYNC_MS * 3);
  t.is(third.closed, null, 'and nothing more without a new loss');
});
