/**
 * Supervision overhead against bare nact, in one process, side by side:
 * crash → restarted (backoff 0) vs nact's `reset`, and message throughput.
 */
import { dispatch, spawn, start, stop, type Ref } from 'nact';
import { actorChild, startSupervisor, type Reply } from '../lib/index.js';
import { compare, now, type Comparison } from './measure.js';

type Msg = { type: 'crash' } | { type: 'tick' } | { type: 'ping'; done: Reply<void> };

const behave = (state: number, msg: Msg): number => {
  if (msg.type === 'crash') throw new Error('crash on purpose');
  if (msg.type === 'ping') msg.done();
  return state + 1;
};

interface Target { send(msg: Msg): void; close(): Promise<void> }

function bareNact(): Target {
  const system = start();
  const ref = spawn(system, behave, 'bare', { initialState: 0, onCrash: (_m, _e, ctx) => ctx.reset }) as Ref<Msg>;
  return { send: (m) => dispatch(ref, m), close: async () => stop(system) };
}

async function supervised(): Promise<Target> {
  const system = start();
  const sup = await startSupervisor(system, {
    id: 'bench', maxRestarts: Number.MAX_SAFE_INTEGER, windowMs: 1,
    children: [actorChild<number, Msg>({ id: 'actor', backoff: { initialMs: 0, jitter: 0 }, init: () => 0, receive: behave })],
  });
  const ref = sup.ref('actor');
  return { send: (m) => void ref.send(m), close: async () => { await sup.stop(); stop(system); } };
}

const ping = (t: Target): Promise<void> => new Promise((done) => t.send({ type: 'ping', done }));

function restartRun(make: () => Target | Promise<Target>, cycles: number) {
  return async () => {
    const t = await make();
    await ping(t);
    const t0 = now();
    for (let i = 0; i < cycles; i++) {
      t.send({ type: 'crash' });
      await ping(t);
    }
    const ms = now() - t0;
    await t.close();
    return { ops: cycles, ms };
  };
}

function throughputRun(make: () => Target | Promise<Target>, messages: number) {
  return async () => {
    const t = await make();
    await ping(t);
    const t0 = now();
    for (let i = 0; i < messages; i++) t.send({ type: 'tick' });
    await ping(t);
    const ms = now() - t0;
    await t.close();
    return { ops: messages + 1, ms };
  };
}

/** Both supervision benchmarks. */
export async function supervisionBenchmarks(scale = 1): Promise<Comparison[]> {
  const cycles = Math.round(3000 * scale);
  const messages = Math.round(200_000 * scale);
  return [
    await compare('crash → restarted (backoff 0)', ['nact reset', restartRun(bareNact, cycles)], ['goat supervisor', restartRun(supervised, cycles)]),
    await compare('messages through one actor', ['bare nact', throughputRun(bareNact, messages)], ['supervised', throughputRun(supervised, messages)]),
  ];
}
