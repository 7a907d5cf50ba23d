/**
 * The supervisor: starts children in order, watches them exit, and applies
 * the pure restart decision — restart after a backoff (one-for-one,
 * one-for-all or rest-for-one), leave stopped, give up on one child, or stop
 * everything and escalate to its own parent. Independent of nact: children
 * are anything with a {@link ChildHandle}; `actors/supervision` bridges nact.
 */
import { GoatError } from '../errors.js';
import type { Random } from './backoff.js';
import { countInWindow, recordIn } from './budget.js';
import type { ChildHandle, ChildRefLike, ChildSpec, Delivery, StartContext } from './child.js';
import { systemClock, type Clock, type TimerId } from './clock.js';
import { decide, type RestartDecision } from './decide.js';
import { EventBus, type DeadLetterReason, type EventListener, type StopReason } from './events.js';
import { ChildRef } from './ref.js';
import type { ChildStatus, TreeNode } from './snapshot.js';
import { normalizeChildOptions, normalizeSupervisorFlags, type SupervisorFlagsInput } from './spec.js';
import { Stash, type Stashed } from './stash.js';
import { dataCopy, type ActorInfo } from './introspect.js';
import { toErrorInfo, type ChildOptions, type ErrorInfo, type ExitReason, type SupervisorFlags } from './types.js';

/** How a supervisor is made. */
export interface SupervisorOptions<H> extends SupervisorFlagsInput {
  /** Its id: the last segment of its path. */
  id: string;
  /** Its path. @default `/${id}` */
  path?: string;
  /** Passed to every child's `start` (the nact bridge passes the supervisor's actor). */
  host: H;
  /** Children, started in this order. */
  children?: ChildSpec<H>[];
  /** @default systemClock */
  clock?: Clock;
  /** @default Math.random */
  random?: Random;
  /** The tree's event bus; a root makes its own. */
  bus?: EventBus;
  /** For a nested supervisor: how it fails to its parent. A root has none and reports a final `escalated` event. */
  onExit?: (reason: ExitReason) => void;
  /** The parent's path, for `escalated` events. */
  parentPath?: string;
  /** Called once when the supervisor is finished (stopped, killed or failed): release its host. */
  dispose?: () => void;
}

interface ChildRecord<H> {
  spec: ChildSpec<H>;
  opts: ChildOptions;
  path: string;
  status: ChildStatus;
  /** While `stopping`: whether a restart follows (messages are stashed) or not (dead letters). */
  willRestart: boolean;
  handle: ChildHandle | null;
  incarnation: number;
  startedAt: number;
  restarts: number[];
  consecutive: number;
  nextRestartAt: number | null;
  /** The scheduled restart this child waits for; a newer schedule or a stop replaces it. */
  pending: object | null;
  timer: TimerId | null;
  lastError: ErrorInfo | null;
  stash: Stash;
}

/**
 * Any path of a tree, actor or supervisor, as the admin channel reaches it:
 * see {@link Supervisor.inspect}.
 */
export interface PathHandle {
  readonly path: string;
  readonly kind: 'supervisor' | 'worker';
  /** Status, restarts, uptime, mailbox (OTP's `process_info` plus the supervisor's view). */
  info(): ActorInfo;
  /** A JSON-safe copy of its state (`sys:get_state`); a supervisor's is its subtree. */
  state(timeoutMs?: number): Promise<unknown>;
  /** Crashes it so that its supervisor acts (`exit(Pid, kill)`); the root cannot be killed this way. */
  kill(reason: string): void;
  /** Null when it would understand `message`, else why not. Supervisors take only introspection. */
  accepts(message: unknown): string | null;
  /** Its reference for `send`/`ask`; null for supervisors. */
  readonly ref: ChildRef | null;
}

/** A supervisor's own state. */
export type SupervisorState = 'new' | 'running' | 'stopping' | 'stopped' | 'failed';

/** An OTP-style supervisor over children described by {@link ChildSpec}s. */
export class Supervisor<H = unknown> {
  readonly id: string;
  readonly path: string;
  readonly flags: SupervisorFlags;
  readonly clock: Clock;
  readonly bus: EventBus;
  readonly host: H;
  readonly #random: Random;
  readonly #onExit: ((reason: ExitReason) => void) | undefined;
  readonly #parentPath: string | null;
  readonly #dispose: (() => void) | undefined;
  /** Children in start order, and by id. */
  #children: ChildRecord<H>[] = [];
  #byId = new Map<string, ChildRecord<H>>();
  readonly #restarts: number[] = [];
  #state: SupervisorState = 'new';
  #queue: Promise<unknown> = Promise.resolve();
  /** Operations queued or running; 0 means the supervisor is idle. */
  #ops = 0;
  #failure: GoatError | null = null;
  #startedAt: number | null = null;
  #failed: Promise<GoatError>;
  #resolveFailed!: (err: GoatError) => void;

  constructor(options: SupervisorOptions<H>) {
    this.id = options.id;
    this.path = options.path ?? `/${options.id}`;
    this.flags = normalizeSupervisorFlags({ strategy: options.strategy, maxRestarts: options.maxRestarts, windowMs: options.windowMs });
    this.clock = options.clock ?? systemClock;
    this.bus = options.bus ?? new EventBus(this.clock);
    this.host = options.host;
    this.#random = options.random ?? Math.random;
    this.#onExit = options.onExit;
    this.#parentPath = options.parentPath ?? null;
    this.#dispose = options.dispose;
    this.#failed = new Promise((resolve) => (this.#resolveFailed = resolve));
    for (const spec of options.children ?? []) this.#add(spec);
  }

  /** `new`, `running`, `stopping`, `stopped` or `failed`. */
  get state(): SupervisorState {
    return this.#state;
  }

  /** The final error after this supervisor escalated, else null. */
  get failure(): GoatError | null {
    return this.#failure;
  }

  /** Resolves with the error once this supervisor has given up and escalated. */
  whenFailed(): Promise<GoatError> {
    return this.#failed;
  }

  /** Starts the children in order. A child that fails to start counts as a crash. */
  start(): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#state !== 'new') return;
      this.#state = 'running';
      this.#startedAt = this.clock.now();
      for (const rec of [...this.#children]) {
        if (this.#state !== 'running') return;
        await this.#startChild(rec, false);
      }
    });
  }

  /** Stops every child in reverse start order, then itself. */
  stop(): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#state === 'stopped' || this.#state === 'failed') return;
      this.#state = 'stopping';
      await this.#stopAll();
      this.#finish('stopped');
    });
  }

  /** Kills every child at once (no graceful shutdown) and stops. */
  kill(): void {
    if (this.#state === 'stopped' || this.#state === 'failed') return;
    for (const rec of [...this.#children].reverse()) {
      if (rec.timer !== null) this.clock.clearTimeout(rec.timer);
      rec.timer = null;
      rec.incarnation++;
      rec.handle?.kill();
      if (rec.status !== 'failed') this.#retire(rec, 'stopped', rec.handle ? 'killed' : null);
    }
    this.#finish('stopped');
  }

  /** Adds and starts a child (children of a running supervisor can come and go). */
  startChild(spec: ChildSpec<H>): Promise<ChildRef> {
    const opts = normalizeChildOptions(spec);
    return this.#enqueue(async () => {
      this.#assertUsable();
      if (this.#find(opts.id)) {
        throw new GoatError('GOAT_ERR_DUPLICATE_CHILD', `${this.path} already has a child '${opts.id}'`, { details: { path: `${this.path}/${opts.id}` } });
      }
      const rec = this.#add(spec, opts);
      if (this.#state === 'running') await this.#startChild(rec, false);
      return this.ref(opts.id);
    });
  }

  /** Stops a child (gracefully, then killed after its `shutdownMs`) and forgets it. */
  stopChild(id: string): Promise<void> {
    return this.#enqueue(async () => {
      const rec = this.#find(id);
      if (!rec) throw new GoatError('GOAT_ERR_NO_SUCH_CHILD', `${this.path} has no child '${id}'`, { details: { path: `${this.path}/${id}` } });
      await this.#stopChild(rec, false);
      this.#forget(rec);
    });
  }

  /** The ids of the children, in start order. */
  childIds(): string[] {
    return this.#children.map((r) => r.opts.id);
  }

  /** A stable reference to child `id`: it survives restarts; sends to a missing child become dead letters. */
  ref(id: string): ChildRef {
    return new ChildRef(this, id, `${this.path}/${id}`);
  }

  /** Finds the child at an absolute path anywhere below this supervisor. */
  lookup(path: string): ChildRefLike | undefined {
    if (!path.startsWith(`${this.path}/`)) return undefined;
    const [id, ...rest] = path.slice(this.path.length + 1).split('/');
    const rec = id === undefined ? undefined : this.#find(id);
    if (!rec) return undefined;
    if (rest.length === 0) return this.ref(rec.opts.id);
    return rec.handle?.lookup?.(path);
  }

  /**
   * The actor or supervisor at `path` (this supervisor or anywhere below),
   * for `info`, `state`, `kill`, `send` and `ask`; undefined when none.
   */
  inspect(path: string): PathHandle | undefined {
    if (path === this.path) return this.#selfHandle();
    if (!path.startsWith(`${this.path}/`)) return undefined;
    const [id, ...rest] = path.slice(this.path.length + 1).split('/');
    const rec = id === undefined ? undefined : this.#find(id);
    if (!rec) return undefined;
    if (rest.length > 0) return rec.handle?.inspect?.(path);
    return this.#childHandle(rec);
  }

  /** Subscribes to the events of this supervisor's subtree; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    const prefix = `${this.path}/`;
    return this.bus.subscribe((e) => {
      if (e.path === this.path || e.path.startsWith(prefix)) listener(e);
    });
  }

  /** This supervisor and its subtree: status, restarts in the window, next restart, last error. */
  snapshot(): TreeNode {
    const now = this.clock.now();
    return {
      id: this.id,
      path: this.path,
      kind: 'supervisor',
      status: supervisorStatus(this.#state),
      restarts: countInWindow(this.#restarts, now, this.flags.windowMs),
      nextRestartAt: null,
      lastError: this.#failure ? toErrorInfo(this.#failure) : null,
      strategy: this.flags.strategy,
      children: this.#children.map((rec) => this.#childNode(rec, now)),
    };
  }

  /**
   * Sends to child `id`: delivered when it runs, stashed while it (re)starts,
   * else a dead letter. Used by {@link ChildRef}.
   * @internal
   */
  deliver(id: string, message: unknown, onDead?: (reason: string) => void): Delivery {
    const rec = this.#find(id);
    const path = `${this.path}/${id}`;
    if (!rec) return this.#deadLetter(path, 'no_such_child', { message, onDead });
    switch (rec.status) {
      case 'running':
        rec.handle!.deliver(message);
        return 'delivered';
      case 'starting':
      case 'restarting':
        return this.#stash(rec, { message, onDead });
      case 'stopping':
        return rec.willRestart ? this.#stash(rec, { message, onDead }) : this.#deadLetter(path, 'stopped', { message, onDead });
      case 'stopped':
        return this.#deadLetter(path, 'stopped', { message, onDead });
      case 'failed':
        return this.#deadLetter(path, 'failed', { message, onDead });
    }
  }

  // --- introspection -----------------------------------------------------------

  #selfHandle(): PathHandle {
    const info = (): ActorInfo => {
      const now = this.clock.now();
      const running = this.#state === 'running';
      return {
        path: this.path, kind: 'supervisor', status: supervisorStatus(this.#state),
        restarts: countInWindow(this.#restarts, now, this.flags.windowMs),
        startedAt: running ? this.#startedAt : null, uptimeMs: running && this.#startedAt !== null ? now - this.#startedAt : null,
        nextRestartAt: null, lastError: this.#failure ? toErrorInfo(this.#failure) : null, mailbox: null, handled: null,
        strategy: this.flags.strategy, children: this.childIds(),
      };
    };
    return {
      path: this.path, kind: 'supervisor', ref: null, info,
      state: () => Promise.resolve({ flags: { ...this.flags }, state: this.#state, children: this.snapshot().children ?? [] }),
      kill: () => {
        throw new GoatError('GOAT_ERR_USAGE', `${this.path} is a root supervisor: killing it would end the process; stop the process instead`, { details: { path: this.path } });
      },
      accepts: () => `${this.path} is a supervisor: it answers only $info, $state and $kill`,
    };
  }

  #childHandle(rec: ChildRecord<H>): PathHandle {
    const nested = (): PathHandle | undefined => rec.handle?.inspect?.(rec.path);
    const kind = rec.spec.kind ?? 'worker';
    const notRunning = (): GoatError => new GoatError('GOAT_ERR_DEAD_LETTER', `${rec.path} is ${rec.status}, not running`, { details: { path: rec.path, reason: rec.status } });
    return {
      path: rec.path, kind, ref: kind === 'supervisor' ? null : this.ref(rec.opts.id),
      info: (): ActorInfo => {
        const now = this.clock.now();
        const running = rec.status === 'running';
        const counters = running ? rec.handle?.introspect?.counters?.() : undefined;
        const inner = nested()?.info();
        return {
          path: rec.path, kind, status: rec.status,
          restarts: countInWindow(rec.restarts, now, this.#childWindow(rec)),
          startedAt: running ? rec.startedAt : null, uptimeMs: running ? now - rec.startedAt : null,
          nextRestartAt: rec.nextRestartAt, lastError: rec.lastError,
          mailbox: counters?.mailbox ?? null, handled: counters?.handled ?? null,
          ...(inner ? { strategy: inner.strategy, children: inner.children } : {}),
        } as ActorInfo;
      },
      state: async (timeoutMs = 5_000) => {
        if (rec.status !== 'running' || !rec.handle) throw notRunning();
        const inner = nested();
        if (inner) return inner.state(timeoutMs);
        const read = rec.handle.introspect?.state;
        if (!read) return null;
        return dataCopy(await read(timeoutMs));
      },
      kill: (reason) => {
        const handle = rec.handle;
        if (rec.status !== 'running' || !handle) throw notRunning();
        const error = { name: 'Killed', message: `killed: ${reason}` };
        if (handle.introspect?.crash) return handle.introspect.crash(error);
        const incarnation = rec.incarnation;
        handle.kill();
        this.#exited(rec, incarnation, { type: 'error', error }, [], false);
      },
      accepts: (message) => {
        if (kind === 'supervisor') return `${rec.path} is a supervisor: it answers only $info, $state and $kill`;
        return rec.handle?.introspect?.accepts?.(message) ?? null;
      },
    };
  }

  // --- internals -------------------------------------------------------------

  #enqueue<T>(op: () => Promise<T>): Promise<T> {
    this.#ops++;
    const run = this.#queue.then(op).finally(() => this.#ops--);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #assertUsable(): void {
    if (this.#state === 'stopping' || this.#state === 'stopped' || this.#state === 'failed') {
      throw new GoatError('GOAT_ERR_SUPERVISOR_STOPPED', `supervisor ${this.path} is ${this.#state}`, { details: { path: this.path } });
    }
  }

  #find(id: string): ChildRecord<H> | undefined {
    return this.#byId.get(id);
  }

  #add(spec: ChildSpec<H>, opts = normalizeChildOptions(spec)): ChildRecord<H> {
    if (this.#find(opts.id)) {
      throw new GoatError('GOAT_ERR_DUPLICATE_CHILD', `${this.path} already has a child '${opts.id}'`, { details: { path: `${this.path}/${opts.id}` } });
    }
    const rec: ChildRecord<H> = {
      spec, opts, path: `${this.path}/${opts.id}`, status: 'starting', willRestart: false, handle: null,
      incarnation: 0, startedAt: 0, restarts: [], consecutive: 0, nextRestartAt: null, pending: null, timer: null,
      lastError: null, stash: new Stash(opts.stashLimit),
    };
    this.#children.push(rec);
    this.#byId.set(opts.id, rec);
    return rec;
  }

  #forget(rec: ChildRecord<H>): void {
    this.#children = this.#children.filter((r) => r !== rec);
    this.#byId.delete(rec.opts.id);
  }

  #context(rec: ChildRecord<H>, incarnation: number): StartContext<H> {
    return {
      id: rec.opts.id, path: rec.path, host: this.host, clock: this.clock, bus: this.bus, random: this.#random,
      exit: (reason, unhandled, canResetInPlace) => this.#exited(rec, incarnation, reason, unhandled ?? [], canResetInPlace ?? false),
    };
  }

  /** Runs synchronously when a child reports its exit: stop routing to it, then decide in order. */
  #exited(rec: ChildRecord<H>, incarnation: number, reason: ExitReason, unhandled: unknown[], canResetInPlace: boolean): boolean {
    if (rec.incarnation !== incarnation || (rec.status !== 'running' && rec.status !== 'starting')) return false;
    if (this.#state !== 'running') return false;
    if (canResetInPlace && rec.status === 'running' && this.#ops === 0 && this.#resetInPlace(rec, reason)) return true;
    rec.status = 'restarting';
    rec.handle = null;
    const overflow = rec.stash.unshiftAll(unhandled.map((message) => ({ message })));
    for (const item of overflow) this.#deadLetter(rec.path, 'stash_overflow', item);
    if (reason.type === 'error') {
      rec.lastError = reason.error;
      this.bus.emit({ type: 'child_crashed', path: rec.path, error: reason.error });
    }
    void this.#enqueue(() => this.#handleExit(rec, reason));
    return false;
  }

  /**
   * The fast path for an immediate one-child restart while nothing else is in
   * progress: same decision and bookkeeping, but the child resets itself in
   * place (its queue intact) instead of being stopped and started again.
   */
  #resetInPlace(rec: ChildRecord<H>, reason: ExitReason): boolean {
    const now = this.clock.now();
    const decision = this.#decide(rec, reason, now);
    if (decision.action !== 'restart' || decision.delayMs !== 0 || !this.#restartsAlone(rec)) return false;
    if (reason.type === 'error') {
      rec.lastError = reason.error;
      this.bus.emit({ type: 'child_crashed', path: rec.path, error: reason.error });
    }
    this.#recordRestart(rec, decision.attempt, now);
    this.bus.emit({ type: 'restart_scheduled', path: rec.path, delayMs: 0, restartAt: now, attempt: decision.attempt, why: decision.why });
    rec.startedAt = now;
    this.bus.emit({ type: 'child_restarted', path: rec.path, attempt: decision.attempt });
    return true;
  }

  #decide(rec: ChildRecord<H>, reason: ExitReason, now: number): RestartDecision {
    const history = { supervisorRestarts: this.#restarts, childRestarts: rec.restarts, consecutive: rec.consecutive, startedAt: rec.startedAt };
    return decide(reason, rec.opts, history, now, this.flags, this.#random);
  }

  #recordRestart(rec: ChildRecord<H>, attempt: number, now: number): void {
    recordIn(this.#restarts, now, this.flags.windowMs);
    recordIn(rec.restarts, now, this.#childWindow(rec));
    rec.consecutive = attempt + 1;
  }

  async #handleExit(rec: ChildRecord<H>, reason: ExitReason): Promise<void> {
    if (this.#state !== 'running' || rec.status !== 'restarting') return;
    const now = this.clock.now();
    const decision = this.#decide(rec, reason, now);
    switch (decision.action) {
      case 'ignore':
        this.#retire(rec, 'stopped', reason.type === 'error' ? 'failed' : 'normal');
        if (rec.opts.restart === 'temporary') this.#forget(rec);
        return this.#resumeStalled();
      case 'give_up':
        this.bus.emit({ type: 'budget_exceeded', path: rec.path, scope: 'child', why: decision.why });
        rec.lastError = { name: 'GoatError', code: 'GOAT_ERR_BUDGET_EXCEEDED', message: decision.why };
        this.#retire(rec, 'failed', 'failed');
        return this.#resumeStalled();
      case 'escalate':
        this.bus.emit({ type: 'budget_exceeded', path: this.path, scope: 'supervisor', why: decision.why });
        await this.#escalate(decision.why);
        return;
      case 'restart':
        await this.#scheduleRestart(rec, decision.delayMs, decision.attempt, decision.why, now);
        return;
    }
  }

  async #scheduleRestart(rec: ChildRecord<H>, delayMs: number, attempt: number, why: string, now: number): Promise<void> {
    this.#recordRestart(rec, attempt, now);
    const affected = this.#affected(rec);
    for (const other of [...affected].reverse()) {
      if (other === rec) continue;
      // OTP: a temporary sibling is terminated with the group but never restarted; it is removed.
      const temporary = other.opts.restart === 'temporary';
      await this.#stopChild(other, !temporary);
      if (temporary) this.#forget(other);
    }
    const group = affected.filter((r) => r === rec || r.opts.restart !== 'temporary');
    if (this.#state !== 'running') return;
    const restartAt = now + delayMs;
    const token = {};
    for (const member of group) {
      if (member.timer !== null) this.clock.clearTimeout(member.timer);
      member.status = 'restarting';
      member.timer = null;
      member.pending = token;
      member.nextRestartAt = restartAt;
      this.bus.emit({ type: 'restart_scheduled', path: member.path, delayMs, restartAt, attempt, why: member === rec ? why : `${why} (${this.flags.strategy})` });
    }
    const restart = async (): Promise<void> => {
      for (const member of group) if (member.pending === token) member.timer = null; // it fired
      for (const member of group) {
        if (this.#state !== 'running') return;
        if (member.status !== 'restarting' || member.pending !== token) continue;
        await this.#startChild(member, true);
        // OTP: a member that fails to start stops the group; the rest wait for its next restart.
        if ((member.status as ChildStatus) !== 'running') return;
      }
    };
    if (delayMs === 0) return restart();
    const timer = this.clock.setTimeout(() => void this.#enqueue(restart), delayMs);
    for (const member of group) member.timer = timer;
  }

  /** Starts group members left waiting when the member before them will not restart any more. */
  async #resumeStalled(): Promise<void> {
    for (const rec of [...this.#children]) {
      if (this.#state !== 'running') return;
      if (rec.status === 'restarting' && rec.pending !== null && rec.timer === null) await this.#startChild(rec, true);
    }
  }

  /** True when the strategy touches `rec` and nobody else. */
  #restartsAlone(rec: ChildRecord<H>): boolean {
    if (this.flags.strategy === 'one_for_one' || this.#children.length === 1) return true;
    return this.#affected(rec).length === 1;
  }

  /**
   * Who the strategy terminates with `rec`, in start order (OTP's
   * `one_for_all`/`rest_for_one`): every sibling (or every later one) that is
   * not `failed` (given up on its own budget). Those that are not temporary
   * restart with `rec` — in OTP a transient child that had exited normally is
   * started again with the group; temporary ones are only terminated.
   */
  #affected(rec: ChildRecord<H>): ChildRecord<H>[] {
    const member = (r: ChildRecord<H>): boolean => {
      if (r === rec) return true;
      if (r.status === 'failed') return false;
      // A temporary child that is not running any more has nothing to terminate (it is being removed).
      if (r.opts.restart === 'temporary') return r.status === 'running' || r.status === 'starting';
      return true;
    };
    switch (this.flags.strategy) {
      case 'one_for_one':
        return [rec];
      case 'one_for_all':
        return this.#children.filter(member);
      case 'rest_for_one':
        return this.#children.slice(this.#children.indexOf(rec)).filter(member);
    }
  }

  #childWindow(rec: ChildRecord<H>): number {
    return rec.opts.budget?.windowMs ?? this.flags.windowMs;
  }

  async #startChild(rec: ChildRecord<H>, isRestart: boolean): Promise<void> {
    const incarnation = ++rec.incarnation;
    rec.status = 'starting';
    rec.startedAt = this.clock.now(); // a start that fails "ran" from here: no backoff reset
    rec.timer = null;
    rec.pending = null;
    rec.nextRestartAt = null;
    let handle: ChildHandle;
    try {
      const started = rec.spec.start(this.#context(rec, incarnation));
      handle = started instanceof Promise ? await started : started;
    } catch (err) {
      if (rec.incarnation !== incarnation || rec.status !== 'starting') return;
      const error = toErrorInfo(err);
      this.#exited(rec, incarnation, { type: 'error', error }, [], false);
      return;
    }
    if (rec.incarnation !== incarnation || rec.status !== 'starting' || this.#state !== 'running') {
      // It exited while starting, or we were stopped meanwhile: this handle is not wanted.
      if (rec.incarnation === incarnation && this.#state !== 'running') rec.status = 'stopped';
      handle.kill();
      return;
    }
    rec.handle = handle;
    rec.status = 'running';
    rec.startedAt = this.clock.now();
    if (isRestart) this.bus.emit({ type: 'child_restarted', path: rec.path, attempt: rec.consecutive - 1 });
    else this.bus.emit({ type: 'child_started', path: rec.path });
    this.#flush(rec);
  }

  /** Delivers what was stashed, in order, while the child keeps running. */
  #flush(rec: ChildRecord<H>): void {
    const items = rec.stash.drain();
    for (let i = 0; i < items.length; i++) {
      if (rec.status !== 'running' || !rec.handle) {
        rec.stash.unshiftAll(items.slice(i));
        return;
      }
      rec.handle.deliver(items[i]!.message);
    }
  }

  /** Stops one child gracefully (killed after `shutdownMs`); then `restarting` or `stopped`. */
  async #stopChild(rec: ChildRecord<H>, willRestart: boolean): Promise<void> {
    if (rec.timer !== null) {
      this.clock.clearTimeout(rec.timer);
      rec.timer = null;
    }
    rec.pending = null;
    rec.nextRestartAt = null;
    const handle = rec.handle;
    if (!handle || (rec.status !== 'running' && rec.status !== 'starting')) {
      if (willRestart) {
        rec.status = 'restarting';
      } else if (rec.status !== 'failed') {
        this.#retire(rec, 'stopped', null);
      }
      return;
    }
    rec.status = 'stopping';
    rec.willRestart = willRestart;
    rec.incarnation++;
    const graceful = await this.#withTimeout(handle.shutdown(), rec.opts.shutdownMs);
    if (!graceful) handle.kill();
    rec.handle = null;
    this.bus.emit({ type: 'child_stopped', path: rec.path, reason: graceful ? 'shutdown' : 'killed' });
    if (willRestart) rec.status = 'restarting';
    else this.#retire(rec, 'stopped', null);
  }

  /** Resolves true if `work` settles within `ms`, false if it had to be abandoned. */
  async #withTimeout(work: Promise<void>, ms: number): Promise<boolean> {
    if (ms === 0) {
      work.catch(() => undefined);
      return false;
    }
    let timer: TimerId | null = null;
    const timeout = new Promise<boolean>((resolve) => (timer = this.clock.setTimeout(() => resolve(false), ms)));
    const done = work.then(() => true, () => true);
    const result = await Promise.race([done, timeout]);
    if (timer !== null) this.clock.clearTimeout(timer);
    return result;
  }

  /** Marks a child as done for good: its stash becomes dead letters. */
  #retire(rec: ChildRecord<H>, status: 'stopped' | 'failed', reason: StopReason | null): void {
    rec.status = status;
    rec.handle = null;
    rec.pending = null;
    rec.nextRestartAt = null;
    if (reason) this.bus.emit({ type: 'child_stopped', path: rec.path, reason });
    for (const item of rec.stash.drain()) this.#deadLetter(rec.path, status, item);
  }

  async #stopAll(): Promise<void> {
    for (const rec of [...this.#children].reverse()) await this.#stopChild(rec, false);
  }

  /** Budget spent: stop all children (reverse order), then fail upward — or, at the root, report a final error. */
  async #escalate(why: string): Promise<void> {
    this.#state = 'stopping';
    await this.#stopAll();
    this.#finish('failed');
    const root = this.#onExit === undefined;
    const failure = new GoatError(
      root ? 'GOAT_ERR_ESCALATED' : 'GOAT_ERR_BUDGET_EXCEEDED',
      root ? `root supervisor ${this.path} gave up: ${why}` : `supervisor ${this.path} gave up: ${why}`,
      { details: { path: this.path } },
    );
    this.#failure = failure;
    this.bus.emit({ type: 'escalated', path: this.path, to: this.#parentPath, final: root, error: toErrorInfo(failure) });
    this.#resolveFailed(failure);
    this.#onExit?.({ type: 'error', error: toErrorInfo(failure) });
  }

  #finish(state: 'stopped' | 'failed'): void {
    this.#state = state;
    this.#dispose?.();
  }

  #stash(rec: ChildRecord<H>, item: Stashed): Delivery {
    if (rec.stash.push(item)) return 'stashed';
    return this.#deadLetter(rec.path, 'stash_overflow', item);
  }

  #deadLetter(path: string, reason: DeadLetterReason, item: Stashed): 'dead' {
    this.bus.emit({ type: 'dead_letter', path, reason, message: item.message });
    item.onDead?.(reason);
    return 'dead';
  }

  #childNode(rec: ChildRecord<H>, now: number): TreeNode {
    const own = {
      id: rec.opts.id,
      path: rec.path,
      status: rec.status,
      restarts: countInWindow(rec.restarts, now, this.#childWindow(rec)),
      nextRestartAt: rec.nextRestartAt,
      lastError: rec.lastError,
    };
    const nested = rec.handle?.snapshot?.();
    if (nested) return { ...nested, ...own, kind: 'supervisor' };
    return { ...own, kind: rec.spec.kind ?? 'worker' };
  }
}

function supervisorStatus(state: SupervisorState): ChildStatus {
  switch (state) {
    case 'new':
      return 'starting';
    case 'running':
    case 'stopping':
    case 'stopped':
    case 'failed':
      return state;
  }
}
