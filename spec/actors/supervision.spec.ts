/** The supervisor with real nact actors: the real-component twin of spec/supervision/supervisor.spec.ts. */
import test from 'ava';
import { start, stop as stopSystem } from 'nact';
import {
  EventBus,
  actorChild,
  nactSupervisorChild,
  startSupervisor,
  systemClock,
  type ActorChildInput,
  type Reply,
  type SupervisorEvent,
} from '../../lib/index.js';

type Msg = { type: 'add'; n: number } | { type: 'crash' } | { type: 'get'; reply: Reply<number[]> } | { type: 'quit' } | { type: 'path'; reply: Reply<string[]> };

const FAST = { initialMs: 20, factor: 2, maxMs: 200, jitter: 0, resetAfterMs: 10_000 };

/** A list actor: `add` appends, `crash` throws, `quit` exits normally; `seen` records every handled add. */
function listActor(id: string, seen: number[] = [], extra: Partial<ActorChildInput<number[], Msg>> = {}): ActorChildInput<number[], Msg> {
  return {
    id,
    backoff: FAST,
    init: () => [],
    receive: (state, msg, ctx) => {
      switch (msg.type) {
        case 'add':
          seen.push(msg.n);
          return [...state, msg.n];
        case 'crash':
          throw new Error(`${id} crashed on purpose`);
        case 'get':
          msg.reply(state);
          return state;
        case 'path':
          msg.reply([...(ctx.self as unknown as { path: { parts: string[] } }).path.parts]);
          return state;
        case 'quit':
          ctx.exit();
          return state;
      }
    },
    ...extra,
  };
}

function harness() {
  const system = start();
  const bus = new EventBus(systemClock);
  const events: SupervisorEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const waitFor = (pred: (e: SupervisorEvent) => boolean, timeoutMs = 5000): Promise<SupervisorEvent> =>
    new Promise((resolve, reject) => {
      const found = events.find(pred);
      if (found) return resolve(found);
      const timer = setTimeout(() => reject(new Error(`event not seen; got ${events.map((e) => `${e.type}:${e.path}`).join(', ')}`)), timeoutMs);
      const off = bus.subscribe((e) => {
        if (pred(e)) {
          clearTimeout(timer);
          off();
          resolve(e);
        }
      });
    });
  return { system, bus, events, waitFor, close: () => stopSystem(system) };
}

const get = (ref: { ask: <R>(make: (r: Reply<R>) => unknown, ms?: number) => Promise<R> }): Promise<number[]> =>
  ref.ask<number[]>((reply) => ({ type: 'get', reply }), 2000);

test('a crashed actor restarts with fresh state; queued and stashed messages arrive in order', async (t) => {
  const h = harness();
  t.teardown(h.close);
  const seen: number[] = [];
  const sup = await startSupervisor(h.system, { id: 'cluster', bus: h.bus, children: [actorChild(listActor('list', seen))] });
  const ref = sup.ref('list');
  for (const n of [1, 2, 3]) ref.send({ type: 'add', n });
  ref.send({ type: 'crash' });
  ref.send({ type: 'add', n: 4 }); // still in nact's mailbox when the crash happens
  await h.waitFor((e) => e.type === 'child_crashed');
  t.is(ref.send({ type: 'add', n: 5 }), 'stashed', 'sent during the backoff');
  ref.send({ type: 'add', n: 6 });
  t.deepEqual(await get(ref), [4, 5, 6], 'the new incarnation started from init() and got every later message');
  t.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
  const crashed = h.events.find((e) => e.type === 'child_crashed');
  t.is(crashed?.type === 'child_crashed' ? crashed.error.message : '', 'list crashed on purpose');
  t.truthy(h.events.find((e) => e.type === 'restart_scheduled' && e.delayMs === 20));
  t.truthy(h.events.find((e) => e.type === 'child_restarted' && e.path === '/cluster/list'));
  await sup.stop();
});

test('with backoff 0 the actor resets in place: fresh state, queued messages kept, restart recorded', async (t) => {
  const h = harness();
  t.teardown(h.close);
  const seen: number[] = [];
  const sup = await startSupervisor(h.system, {
    id: 'cluster', bus: h.bus,
    children: [actorChild(listActor('fast', seen, { backoff: { initialMs: 0, jitter: 0 } }))],
  });
  const ref = sup.ref('fast');
  ref.send({ type: 'add', n: 1 });
  ref.send({ type: 'crash' });
  ref.send({ type: 'add', n: 2 });
  ref.send({ type: 'add', n: 3 });
  t.deepEqual(await get(ref), [2, 3]);
  t.deepEqual(seen, [1, 2, 3]);
  t.deepEqual(h.events.filter((e) => e.path === '/cluster/fast').map((e) => e.type), ['child_started', 'child_crashed', 'restart_scheduled', 'child_restarted']);
  t.is(sup.snapshot().children?.[0]?.restarts, 1);
  await sup.stop();
});

test('nact actor paths mirror the supervision tree', async (t) => {
  const h = harness();
  t.teardown(h.close);
  const sup = await startSupervisor(h.system, {
    id: 'cluster', bus: h.bus,
    children: [nactSupervisorChild({ id: 'worker', children: [actorChild(listActor('runtime'))] })],
  });
  const ref = sup.lookup('/cluster/worker/runtime') as ReturnType<typeof sup.ref>;
  t.truthy(ref);
  t.deepEqual(await ref.ask<string[]>((reply) => ({ type: 'path', reply }), 2000), ['cluster', 'worker', 'runtime']);
  t.deepEqual(sup.snapshot().children?.[0]?.children?.map((c) => c.path), ['/cluster/worker/runtime']);
  await sup.stop();
});

test('a transient actor that exits normally stays stopped; terminate sees its last state', async (t) => {
  const h = harness();
  t.teardown(h.close);
  let terminated: number[] | null = null;
  const spec = listActor('job', [], { restart: 'transient', terminate: (state) => void (terminated = state) });
  const sup = await startSupervisor(h.system, { id: 'cluster', bus: h.bus, children: [actorChild(spec)] });
  const ref = sup.ref('job');
  ref.send({ type: 'add', n: 7 });
  ref.send({ type: 'quit' });
  await h.waitFor((e) => e.type === 'child_stopped' && e.path === '/cluster/job');
  t.is(sup.snapshot().children?.[0]?.status, 'stopped');
  await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(terminated, [7]);
  t.is(ref.send({ type: 'add', n: 8 }), 'dead');
  await h.waitFor((e) => e.type === 'dead_letter' && e.reason === 'stopped');
  await sup.stop();
});

test('one_for_all with real actors: a crash resets the siblings too', async (t) => {
  const h = harness();
  t.teardown(h.close);
  const sup = await startSupervisor(h.system, {
    id: 'cluster', bus: h.bus, strategy: 'one_for_all',
    children: [actorChild(listActor('a')), actorChild(listActor('b'))],
  });
  sup.ref('a').send({ type: 'add', n: 1 });
  t.deepEqual(await get(sup.ref('a')), [1]);
  sup.ref('b').send({ type: 'crash' });
  await h.waitFor((e) => e.type === 'child_restarted' && e.path === '/cluster/b');
  t.deepEqual(await get(sup.ref('a')), [], 'a was restarted with b');
  t.truthy(h.events.find((e) => e.type === 'child_stopped' && e.path === '/cluster/a' && e.reason === 'shutdown'));
  await sup.stop();
});

test('an actor whose init throws is retried with backoff until it starts', async (t) => {
  const h = harness();
  t.teardown(h.close);
  let attempts = 0;
  const spec = listActor('flaky', [], {
    init: () => {
      attempts += 1;
      if (attempts < 3) throw new Error('not yet');
      return [];
    },
  });
  const sup = await startSupervisor(h.system, { id: 'cluster', bus: h.bus, children: [actorChild(spec)] });
  await h.waitFor((e) => e.type === 'child_restarted' && e.path === '/cluster/flaky' && e.attempt === 1);
  t.is(attempts, 3);
  t.deepEqual(h.events.filter((e) => e.type === 'restart_scheduled').map((e) => (e.type === 'restart_scheduled' ? e.delayMs : 0)), [20, 40]);
  t.deepEqual(await get(sup.ref('flaky')), []);
  await sup.stop();
});

test('three nact levels: budgets spent all the way up end in one final root error', async (t) => {
  const h = harness();
  t.teardown(h.close);
  const sup = await startSupervisor(h.system, {
    id: 'cluster', bus: h.bus, maxRestarts: 0,
    children: [nactSupervisorChild({ id: 'worker', maxRestarts: 0, children: [
      nactSupervisorChild({ id: 'tasks', maxRestarts: 0, children: [actorChild(listActor('t1'))] }),
    ] })],
  });
  sup.lookup('/cluster/worker/tasks/t1')?.send({ type: 'crash' });
  const failure = await sup.whenFailed();
  t.is(failure.code, 'GOAT_ERR_ESCALATED');
  t.deepEqual(
    h.events.filter((e) => e.type === 'escalated').map((e) => (e.type === 'escalated' ? [e.path, e.final] : [])),
    [['/cluster/worker/tasks', false], ['/cluster/worker', false], ['/cluster', true]],
  );
  t.is(sup.state, 'failed');
  t.is(sup.ref('worker').send('anything'), 'dead');
});

test('stop() runs terminate; one that hangs is abandoned after shutdownMs', async (t) => {
  const h = harness();
  t.teardown(h.close);
  const order: string[] = [];
  const sup = await startSupervisor(h.system, {
    id: 'cluster', bus: h.bus,
    children: [
      actorChild(listActor('first', [], { terminate: () => void order.push('first') })),
      actorChild(listActor('hangs', [], { shutdownMs: 50, terminate: () => new Promise<void>(() => order.push('hangs')) })),
    ],
  });
  await sup.stop();
  t.deepEqual(order, ['hangs', 'first'], 'reverse start order');
  t.deepEqual(
    h.events.filter((e) => e.type === 'child_stopped').map((e) => (e.type === 'child_stopped' ? [e.path, e.reason] : [])),
    [['/cluster/hangs', 'killed'], ['/cluster/first', 'shutdown']],
  );
});

test('terminate also runs on a crash, and tell() from init waits for the actor to exist', async (t) => {
  const h = harness();
  t.teardown(h.close);
  const terminated: string[] = [];
  let incarnation = 0;
  const sup = await startSupervisor(h.system, {
    id: 'cluster', bus: h.bus,
    children: [actorChild<number, Msg>({
      id: 'gate', backoff: FAST,
      init: async (ctx) => {
        incarnation += 1;
        ctx.tell({ type: 'add', n: incarnation * 10 }); // before the actor exists
        return 0;
      },
      receive: (state, msg) => {
        if (msg.type === 'crash') throw new Error('gone');
        if (msg.type === 'get') msg.reply([state]);
        return msg.type === 'add' ? state + msg.n : state;
      },
      terminate: (state) => void terminated.push(`state ${state}`),
    })],
  });
  const ref = sup.ref('gate');
  t.deepEqual(await get(ref), [10], 'the message told in init arrived');
  ref.send({ type: 'crash' });
  await h.waitFor((e) => e.type === 'child_restarted');
  t.deepEqual(await get(ref), [20]);
  t.deepEqual(terminated, ['state 10'], 'the crashed incarnation released what it held');
  await sup.stop();
  t.deepEqual(terminated, ['state 10', 'state 20']);
});
