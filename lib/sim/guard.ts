/**
 * "Nothing real inside a run": while a run is on, time, timers, immediates
 * and randomness come from the {@link SimScheduler}, and the network, child
 * processes and `crypto.randomUUID` throw if touched. {@link installGuard}
 * returns the function that puts everything back.
 */
import childProcess from 'node:child_process';
import crypto, { webcrypto } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { random as nanoidRandom } from 'nanoid';
import type { SimScheduler } from './scheduler.js';

/** What touched something real during a run. */
export class RealWorldTouched extends Error {
  constructor(what: string) {
    super(`sim: ${what} touched during a simulated run (a leak of non-determinism)`);
    this.name = 'RealWorldTouched';
  }
}

/** The real `setImmediate`, captured before any run replaces it. */
export const realSetImmediate: (fn: () => void) => void = globalThis.setImmediate.bind(globalThis);

// Give nanoid's pool its final size once, so that every run drains it the same way (see resetNanoidPool).
nanoidRandom(64);

/**
 * nanoid keeps a pool of random bytes between calls: a run would start with
 * what the previous run left. Draw single bytes until the pool refills, from
 * the run's seeded stream (the refill is the only call to getRandomValues).
 */
function resetNanoidPool(refills: { n: number }): void {
  const before = refills.n;
  for (let i = 0; i < 1 << 16 && refills.n === before; i++) nanoidRandom(1);
}

type Patch = [object, string, unknown];

/** Replaces the globals for a run on `sched`; returns the undo. */
export function installGuard(sched: SimScheduler, onUnhandled: (err: unknown) => void): () => void {
  const saved: Patch[] = [];
  const set = (obj: object, key: string, value: unknown): void => {
    saved.push([obj, key, (obj as Record<string, unknown>)[key]]);
    (obj as Record<string, unknown>)[key] = value;
  };
  const refuse = (what: string) => (): never => {
    throw new RealWorldTouched(what);
  };
  const g = globalThis as unknown as Record<string, unknown>;
  set(g, 'setTimeout', (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => sched.setTimer(() => fn(...args), ms ?? 0, false));
  set(g, 'setInterval', (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => sched.setTimer(() => fn(...args), ms ?? 0, true));
  set(g, 'setImmediate', (fn: (...a: unknown[]) => void, ...args: unknown[]) => sched.setTimer(() => fn(...args), 0, false));
  set(g, 'clearTimeout', (t: unknown) => sched.clearTimer(t));
  set(g, 'clearInterval', (t: unknown) => sched.clearTimer(t));
  set(g, 'clearImmediate', (t: unknown) => sched.clearTimer(t));
  set(Date, 'now', () => sched.clockOf(sched.current.node));
  set(Math, 'random', () => sched.random().next());
  const refills = { n: 0 };
  set(webcrypto, 'getRandomValues', <T extends ArrayBufferView | null>(arr: T): T => {
    refills.n++;
    if (arr) sched.random().fill(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
    return arr;
  });
  set(webcrypto, 'randomUUID', refuse('crypto.randomUUID'));
  set(crypto, 'randomUUID', refuse('crypto.randomUUID'));
  // nact names its systems with randomBytes: seeded bytes, synchronous form only.
  set(crypto, 'randomBytes', (n: number, cb?: unknown) => {
    if (cb !== undefined) throw new RealWorldTouched('crypto.randomBytes with a callback');
    const b = Buffer.alloc(n);
    sched.random().fill(b);
    return b;
  });
  for (const k of ['connect', 'createConnection', 'createServer']) set(net, k, refuse(`net.${k}`));
  for (const k of ['request', 'get', 'createServer']) set(http, k, refuse(`http.${k}`));
  for (const k of ['request', 'get']) set(https, k, refuse(`https.${k}`));
  for (const k of ['spawn', 'exec', 'execFile', 'fork', 'spawnSync', 'execSync', 'execFileSync']) set(childProcess, k, refuse(`child_process.${k}`));
  syncBuiltinESMExports();
  const onRejection = (err: unknown): void => onUnhandled(err);
  process.on('unhandledRejection', onRejection);
  resetNanoidPool(refills);
  return () => {
    process.off('unhandledRejection', onRejection);
    for (const [obj, key, value] of saved.reverse()) (obj as Record<string, unknown>)[key] = value;
    syncBuiltinESMExports();
  };
}
