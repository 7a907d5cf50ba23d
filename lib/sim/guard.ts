/**
 * "Nothing real inside a run": while a run is on, time (`Date.now()`,
 * `new Date()`, `performance.now()`), timers, immediates and randomness
 * come from the {@link SimScheduler}, and the network, child
 * processes, the file system (`fs`, sync, callback and promises) and
 * `crypto.randomUUID` throw if touched — and each touch is reported, so that
 * code catching the error cannot hide the leak. What the real code needs
 * of a disk goes through its seams (the worker's state and epoch files, the
 * manager's store and token). {@link installGuard} returns the function that
 * puts everything back.
 */
import childProcess from 'node:child_process';
import crypto, { webcrypto } from 'node:crypto';
import fs from 'node:fs';
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

/** The error `refused` throws. */
function tryRefuse(refused: () => never): unknown {
  try {
    return refused();
  } catch (err) {
    return err;
  }
}

/** Whether Node's own module loader is the caller (loading code, not touching the run's state). */
function byModuleLoader(): boolean {
  return (new Error().stack ?? '').includes('node:internal/modules/');
}

/**
 * Replaces the globals for a run on `sched`; returns the undo. `onTouched`
 * hears of every refused touch of the real world (with where it came from).
 */
export function installGuard(sched: SimScheduler, onUnhandled: (err: unknown) => void, onTouched: (what: string, where: string) => void = () => undefined): () => void {
  const saved: Patch[] = [];
  const set = (obj: object, key: string, value: unknown): void => {
    saved.push([obj, key, (obj as Record<string, unknown>)[key]]);
    (obj as Record<string, unknown>)[key] = value;
  };
  const refuse = (what: string) => (): never => {
    const err = new RealWorldTouched(what);
    onTouched(what, (err.stack ?? '').split('\n').slice(2, 5).map((l) => l.trim()).join(' < '));
    throw err;
  };
  const g = globalThis as unknown as Record<string, unknown>;
  set(g, 'setTimeout', (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => sched.setTimer(() => fn(...args), ms ?? 0, false));
  set(g, 'setInterval', (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => sched.setTimer(() => fn(...args), ms ?? 0, true));
  set(g, 'setImmediate', (fn: (...a: unknown[]) => void, ...args: unknown[]) => sched.setTimer(() => fn(...args), 0, false));
  set(g, 'clearTimeout', (t: unknown) => sched.clearTimer(t));
  set(g, 'clearInterval', (t: unknown) => sched.clearTimer(t));
  set(g, 'clearImmediate', (t: unknown) => sched.clearTimer(t));
  set(Date, 'now', () => sched.clockOf(sched.current.node));
  // `new Date()` and `Date()` read the node's clock too (a Proxy keeps `instanceof Date` and the statics as they are).
  const RealDate = Date;
  set(g, 'Date', new Proxy(RealDate, {
    construct: (target, args: unknown[], newTarget) => (args.length === 0 ? Reflect.construct(target, [sched.clockOf(sched.current.node)], newTarget) : Reflect.construct(target, args, newTarget)) as object,
    apply: () => new RealDate(sched.clockOf(sched.current.node)).toString(),
  }));
  // performance.now() (a duration metric, e.g. the manager scheduler's placement time): the node's simulated time.
  set(performance, 'now', () => sched.now * (sched.nodes.get(sched.current.node)?.rate ?? 1));
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
  // The file system: every function of `fs` (classes excepted) and of `fs/promises`. Node's module loader may
  // still read code (a module required lazily, a native addon), and stdout and stderr may still be written (a
  // file there is written with fs.writeSync): neither is state of the run.
  const fsObj = fs as unknown as Record<string, unknown>;
  for (const k of Object.keys(fsObj)) {
    if (k === 'promises' || !/^[a-z]/.test(k) || typeof fsObj[k] !== 'function') continue;
    const refused = refuse(`fs.${k}`);
    const real = fsObj[k] as (...a: unknown[]) => unknown;
    set(fs, k, (...args: unknown[]) => {
      if (((k === 'writeSync' || k === 'write') && (args[0] === 1 || args[0] === 2)) || byModuleLoader()) return real(...args);
      return refused();
    });
  }
  const fsPromises = fs.promises as unknown as Record<string, unknown>;
  for (const k of Object.keys(fsPromises)) {
    if (typeof fsPromises[k] !== 'function' || !/^[a-z]/.test(k)) continue;
    const refused = refuse(`fs/promises.${k}`);
    const real = fsPromises[k] as (...a: unknown[]) => unknown;
    set(fsPromises, k, (...args: unknown[]) => (byModuleLoader() ? real(...args) : Promise.reject(tryRefuse(refused)))); // rejects, as the real one would
  }
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
