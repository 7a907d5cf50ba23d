/**
 * The simulation's one scheduler: every timer, every `setImmediate`, every
 * network delivery and every runtime event of every simulated node is an
 * event in one queue, ordered by (simulated time, sequence). Nothing else
 * moves.
 *
 * How actors become deterministic (the crux). nact 7.6.2 runs each
 * actor's message in `setImmediate(async () => …)` (actor.js `handleMessage`),
 * awaits the handler's promise, then takes the next message; `query` arms a
 * real `setTimeout` for its timeout, `shutdownAfter` another one, and
 * anonymous actor names come from `Math.random`. Goat's own code reads
 * `Date.now()`, calls `setTimeout`/`setInterval`/`setImmediate` (the core's
 * ticks, the worker's fencing and usage poll, the supervision library's
 * `systemClock`) and draws ids from nanoid (`crypto.getRandomValues`).
 * So during a run {@link installGuard} replaces those globals: timers and
 * immediates become events of this queue, `Date.now()` reads the clock of
 * the node whose event is running, `Math.random` and `getRandomValues` draw
 * from that node's seeded stream. After each event the scheduler yields one
 * real macrotask (the only real one), which drains every promise
 * continuation the event caused, before the next event runs. Since no
 * real I/O is in flight, that drain is the same on every run: a seed replays
 * exactly. Code that reaches for anything real (a socket, a child process,
 * `crypto.randomUUID`) throws, which is how a leak of non-determinism shows.
 *
 * Which node is "current" is carried by the event (not by async context):
 * an event runs in the node that scheduled it, and the continuations it
 * causes drain before the next event, so they run in that node too. Every
 * crossing between nodes (network, runtime → worker) is itself an event
 * posted in the receiving node.
 *
 * Nodes have incarnations: killing a node's process bumps it, and events of
 * a dead incarnation are dropped (its timers never fire, its sockets are
 * dead). Machine-level events (`inc: -1`: a task's process, the Docker
 * engine) survive the worker process. A paused node's events wait until the
 * pause ends; its clock runs on meanwhile (SIGSTOP). Each node's clock has
 * its own rate (skew) and offset.
 */
import { Prng } from './prng.js';

/** Who an event belongs to: a node and its process incarnation (-1: the machine, which outlives processes). */
export interface SimCtx {
  node: string;
  inc: number;
}

interface SimEvent {
  at: number;
  seq: number;
  ctx: SimCtx;
  fn: () => void;
  cancelled: boolean;
}

/** A simulated node's clock and state. */
export interface SimNode {
  name: string;
  /** Clock rate (1 = true time). */
  rate: number;
  /** Clock offset, ms. */
  offset: number;
  /** A timer of at least 2 ms fires up to this many ms early (never sooner than 1 ms after it was set), as Node's can. */
  earlyMs: number;
  /** Draws how early. */
  early: Prng;
  /** Paused until this global time (ms). */
  pausedUntil: number;
  /** Current process incarnation (bumped by a kill). */
  inc: number;
  /** Whether its process runs (false between a kill and a restart). */
  up: boolean;
  rng: Prng;
}

/** Wall-clock origin of simulated time: simulated timestamps look like real ones. */
export const SIM_EPOCH = 1_800_000_000_000;

/** The handle simulated timers return (Node's Timeout shape: ref/unref/hasRef/refresh). */
export class SimTimer {
  constructor(
    public ev: SimEvent,
    readonly repeatMs: number | null,
  ) {}
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  refresh(): this {
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.ev.seq;
  }
}

/** One queue for everything that happens in a simulated run. */
export class SimScheduler {
  /** Global simulated time, ms since the start of the run. */
  now = 0;
  /** Events run so far. */
  steps = 0;
  readonly nodes = new Map<string, SimNode>();
  /** Errors that escaped an event (an uncaught exception: a real process would die). */
  readonly errors: { node: string; at: number; error: unknown }[] = [];
  #current: SimCtx = { node: 'sim', inc: -1 };
  readonly #heap: SimEvent[] = [];
  #seq = 0;
  readonly #yield: (fn: () => void) => void;

  constructor(
    readonly rng: Prng,
    realSetImmediate: (fn: () => void) => void,
  ) {
    this.#yield = realSetImmediate;
    this.addNode('sim', { rate: 1, offset: 0 });
  }

  /** The context whose event runs now. */
  get current(): SimCtx {
    return this.#current;
  }

  /** Adds a node with its clock. */
  addNode(name: string, clock: { rate: number; offset: number; earlyMs?: number }): SimNode {
    const node: SimNode = {
      name, rate: clock.rate, offset: clock.offset, earlyMs: clock.earlyMs ?? 0, early: this.rng.fork(`early:${name}`),
      pausedUntil: 0, inc: 0, up: true, rng: this.rng.fork(`node:${name}`),
    };
    this.nodes.set(name, node);
    return node;
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`sim: no node ${name}`);
    return n;
  }

  /** The process context of a node now. */
  ctxOf(name: string): SimCtx {
    return { node: name, inc: this.node(name).inc };
  }

  /** The machine context of a node (survives its process). */
  machineOf(name: string): SimCtx {
    return { node: name, inc: -1 };
  }

  /** Is this context's process alive? */
  alive(ctx: SimCtx): boolean {
    if (ctx.inc === -1) return true;
    const n = this.nodes.get(ctx.node);
    return n !== undefined && n.up && n.inc === ctx.inc;
  }

  /** A node's wall clock now (ms since the epoch, skewed). */
  clockOf(name: string): number {
    const n = this.nodes.get(name);
    if (!n) return SIM_EPOCH + this.now;
    return Math.floor(SIM_EPOCH + n.offset + this.now * n.rate);
  }

  /** The current node's random stream. */
  random(): Prng {
    return (this.nodes.get(this.#current.node) ?? this.node('sim')).rng;
  }

  /** Runs `fn` in `ctx` after `delayMs` of global time. */
  post(ctx: SimCtx, delayMs: number, fn: () => void): SimEvent {
    const ev: SimEvent = { at: this.now + Math.max(0, delayMs), seq: this.#seq++, ctx, fn, cancelled: false };
    this.#push(ev);
    return ev;
  }

  /** A timer of the current node: `ms` on its clock. */
  setTimer(fn: () => void, ms: number, repeat: boolean): SimTimer {
    const ctx = this.#current;
    const node = this.nodes.get(ctx.node);
    const rate = node?.rate ?? 1;
    const delay = Math.max(repeat ? 1 : 0, Number.isFinite(ms) ? ms : 0);
    let global = Math.ceil(delay / rate);
    if (node && node.earlyMs > 0 && !repeat && delay >= 2) global = Math.max(1, global - node.early.int(0, node.earlyMs));
    const timer = new SimTimer(undefined as unknown as SimEvent, repeat ? global : null);
    const fire = (): void => {
      if (timer.repeatMs !== null) timer.ev = this.post(ctx, timer.repeatMs, fire);
      fn();
    };
    timer.ev = this.post(ctx, global, fire);
    return timer;
  }

  /** Cancels a timer (unknown handles are ignored). */
  clearTimer(t: unknown): void {
    if (t instanceof SimTimer) {
      t.ev.cancelled = true;
      (t as { repeatMs: number | null }).repeatMs = null;
    }
  }

  /** Kills a node's process: its events and sockets are dead from now on. */
  kill(name: string): void {
    const n = this.node(name);
    n.up = false;
    n.inc++;
  }

  /** Marks a node's (new) process as running. */
  revive(name: string): SimCtx {
    const n = this.node(name);
    n.up = true;
    n.inc++;
    n.pausedUntil = 0;
    return { node: name, inc: n.inc };
  }

  /** Pauses a node's process for `ms` (SIGSTOP … SIGCONT). */
  pause(name: string, ms: number): void {
    const n = this.node(name);
    n.pausedUntil = Math.max(n.pausedUntil, this.now + ms);
  }

  /** Is this node's process paused now? */
  paused(name: string): boolean {
    return (this.nodes.get(name)?.pausedUntil ?? 0) > this.now;
  }

  /** When the next live event is due, or undefined. */
  get nextAt(): number | undefined {
    return this.#heap[0]?.at;
  }

  /** Runs `fn` in `ctx` now (synchronously), then drains what it caused. */
  async runIn<T>(ctx: SimCtx, fn: () => T): Promise<T> {
    const prev = this.#current;
    this.#current = ctx;
    try {
      const r = fn();
      await this.#drain();
      return r;
    } finally {
      this.#current = prev;
    }
  }

  /**
   * Runs events in order until global time `until` (or `stop()` says so).
   * `onEvent` is called after each event has drained, with its context (the observer).
   */
  async runUntil(until: number, onEvent?: (ctx: SimCtx) => void, maxSteps = Number.POSITIVE_INFINITY): Promise<void> {
    let budget = maxSteps;
    for (;;) {
      const ev = this.#heap[0];
      if (!ev || ev.at > until) break;
      this.#pop();
      if (ev.cancelled || !this.alive(ev.ctx)) continue;
      if (ev.ctx.inc !== -1) {
        const n = this.nodes.get(ev.ctx.node);
        if (n && n.pausedUntil > ev.at) {
          ev.at = n.pausedUntil;
          ev.seq = this.#seq++;
          this.#push(ev);
          continue;
        }
      }
      this.now = ev.at;
      this.#current = ev.ctx;
      try {
        ev.fn();
      } catch (error) {
        this.errors.push({ node: ev.ctx.node, at: this.now, error });
      }
      await this.#drain();
      this.#current = { node: 'sim', inc: -1 };
      this.steps++;
      onEvent?.(ev.ctx);
      if (--budget <= 0) throw new Error(`sim: more than ${maxSteps} events (a hot loop?)`);
    }
    this.now = Math.max(this.now, until);
  }

  /** Lets every promise continuation caused so far run (one real macrotask). */
  #drain(): Promise<void> {
    return new Promise<void>((resolve) => this.#yield(resolve));
  }

  #push(ev: SimEvent): void {
    const h = this.#heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i] as SimEvent, h[p] as SimEvent)) break;
      [h[i], h[p]] = [h[p] as SimEvent, h[i] as SimEvent];
      i = p;
    }
  }

  #pop(): SimEvent | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l] as SimEvent, h[m] as SimEvent)) m = l;
        if (r < h.length && before(h[r] as SimEvent, h[m] as SimEvent)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as SimEvent, h[i] as SimEvent];
        i = m;
      }
    }
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
