/**
 * Supervised nact actors. nact 7.6.2 runs the mailbox; this bridge turns a
 * thrown error into an exit reported to the supervisor (never nact's silent
 * stop/resume), keeps the messages still queued at the crash for the next
 * incarnation, and gives actors a normal exit and a graceful `terminate`.
 */
import { dispatch, spawn, stop, type Ref } from 'nact';
import type { ZodType } from 'zod';
import type { ChildHandle, ChildOptionsInput, ChildSpec, ErrorInfo, ExitReason, StartContext } from '../../lib/supervision/index.js';
import { toErrorInfo } from '../../lib/supervision/index.js';
import { GoatError } from '../../lib/errors.js';
import type { NactRef } from './host.js';

/** What an actor's functions receive besides state and message. */
export interface ActorContext {
  /** The actor's id under its supervisor. */
  id: string;
  /** The actor's path, e.g. `/cluster/worker/runtime`. */
  path: string;
  /** The nact reference of this incarnation (set once `init` has returned). */
  self: NactRef;
  /**
   * Sends a message to this actor's own mailbox. Safe from `init` (callbacks
   * set up there may fire before the actor exists): such messages wait and
   * are delivered first once it does.
   */
  tell(message: unknown): void;
  /**
   * Ends the actor normally once the current message is handled (OTP's
   * `normal` exit): `transient` and `temporary` actors stay stopped,
   * `permanent` ones are restarted.
   */
  exit(): void;
}

/** An actor's behaviour: state, a message handler, and an optional clean-up. */
export interface ActorBehaviour<S, M> {
  /** Builds the initial state of each incarnation. Throwing counts as a crash at start. */
  init: (ctx: ActorContext) => S | Promise<S>;
  /** Handles one message and returns the next state. Throwing is a crash: the message is lost, later ones are kept. */
  receive: (state: S, message: M, ctx: ActorContext) => S | Promise<S>;
  /**
   * Releases what the incarnation holds (timers, listeners), with its last
   * state: on a graceful stop (bounded by `shutdownMs`), a normal exit, and a
   * crash (OTP's `terminate`), so nothing leaks into the next incarnation.
   */
  terminate?: (state: S, ctx: ActorContext) => void | Promise<void>;
  /**
   * The messages it understands. When given, anything else is rejected where
   * it enters (the admin channel answers GOAT_ERR_BAD_MESSAGE) and, if it gets
   * this far, dropped as a `dead_letter` (reason `rejected`) instead of
   * reaching `receive`: a message it does not understand never crashes it.
   * Without it the actor takes no messages from the admin channel (only
   * `$info`, `$state`, `$kill`).
   */
  messages?: ZodType<M>;
}

/** A supervised actor's spec: child options plus behaviour. */
export type ActorChildInput<S, M> = ChildOptionsInput & ActorBehaviour<S, M>;

const NORMAL_EXIT = Symbol('goat.normal_exit');
/** Internal mailbox messages: read the state in mailbox order; crash on demand. */
const READ_STATE = Symbol('goat.read_state');
const CRASH = Symbol('goat.crash');
type ReadState = { [READ_STATE]: (state: unknown) => void };
type Crash = { [CRASH]: ErrorInfo };
const isReadState = (m: unknown): m is ReadState => typeof m === 'object' && m !== null && READ_STATE in m;
const isCrash = (m: unknown): m is Crash => typeof m === 'object' && m !== null && CRASH in m;

/** The introspection message every supervised actor answers: who it is, since when, how many messages it handled. */
export interface InfoMessage { type: '$info'; reply: (info: { id: string; path: string; startedAt: number; handled: number }) => void }

function isInfo(m: unknown): m is InfoMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === '$info' && typeof (m as { reply?: unknown }).reply === 'function';
}
const noop = (): void => undefined;

interface MailboxEntry { message: unknown }

/** A child spec that runs `behaviour` as a nact actor under the supervisor's actor. */
export function actorChild<S, M>(input: ActorChildInput<S, M>): ChildSpec<NactRef> {
  const { init, receive, terminate, messages, ...options } = input;
  return {
    ...options,
    kind: 'worker',
    start: (ctx) => startActor(ctx, { init, receive, terminate, ...(messages ? { messages } : {}) }),
  };
}

function startActor<S, M>(sctx: StartContext<NactRef>, behaviour: ActorBehaviour<S, M>): ChildHandle | Promise<ChildHandle> {
  const actx = actorContext(sctx);
  const initial = behaviour.init(actx.public);
  // An actor whose init is synchronous can be reset in place by nact (the fast restart path).
  return initial instanceof Promise ? initial.then((s) => spawnActor(sctx, behaviour, actx, s, false)) : spawnActor(sctx, behaviour, actx, initial, true);
}

interface PrivateContext {
  public: ActorContext;
  exitRequested: boolean;
  ref: NactRef | undefined;
  /** Messages told before the actor existed. */
  early: unknown[];
}

function actorContext(sctx: StartContext<NactRef>): PrivateContext {
  const priv: PrivateContext = {
    exitRequested: false,
    ref: undefined, // set right after init(), before any message
    early: [],
    public: {
      id: sctx.id,
      path: sctx.path,
      get self(): NactRef {
        return priv.ref as NactRef;
      },
      tell: (message) => {
        if (priv.ref) dispatch(priv.ref as Ref<unknown>, message);
        else priv.early.push(message);
      },
      exit: () => {
        priv.exitRequested = true;
      },
    },
  };
  return priv;
}

function spawnActor<S, M>(sctx: StartContext<NactRef>, behaviour: ActorBehaviour<S, M>, actx: PrivateContext, initial: S, resettable: boolean): ChildHandle {
  let state = initial;
  let first = true;
  /** nact calls this at spawn and on every in-place reset. */
  const initialStateFunc = (): S => {
    if (first) {
      first = false;
      return initial;
    }
    actx.exitRequested = false;
    const next = behaviour.init(actx.public);
    if (next instanceof Promise) throw new Error(`${sctx.path}: init() became asynchronous; it cannot be reset in place`);
    state = next;
    return next;
  };
  let stopping = false;
  let current: Promise<unknown> | null = null;
  const after = (next: S): S => {
    state = next;
    if (actx.exitRequested) throw NORMAL_EXIT;
    return next;
  };
  // Synchronous handlers stay synchronous: no extra promise per message.
  let handled = 0;
  let queued = actx.early.length;
  const startedAt = sctx.clock.now();
  const f = (prev: S, message: M): S | Promise<S> => {
    queued = Math.max(0, queued - 1);
    if (stopping) return prev;
    if (isReadState(message)) {
      message[READ_STATE](prev);
      return prev;
    }
    if (isCrash(message)) {
      const err = new Error(message[CRASH].message);
      err.name = message[CRASH].name;
      throw err;
    }
    // `{ type: '$info', reply }` is answered by the bridge for any actor (the REPL's ask).
    if (isInfo(message)) {
      message.reply({ id: sctx.id, path: sctx.path, startedAt, handled });
      return prev;
    }
    if (behaviour.messages && !behaviour.messages.safeParse(message).success) {
      sctx.bus.emit({ type: 'dead_letter', path: sctx.path, reason: 'rejected', message });
      return prev;
    }
    handled++;
    const out = behaviour.receive(prev, message, actx.public);
    if (!(out instanceof Promise)) return after(out);
    const run = out.then(after);
    current = run.then(noop, noop);
    return run;
  };
  const finish = async (last: S = state): Promise<void> => {
    if (behaviour.terminate) await behaviour.terminate(last, actx.public);
  };

  const ref = spawn(sctx.host as Ref<never>, f, sctx.id, {
    initialStateFunc,
    onCrash: (_msg, err, nctx) => {
      // nact 7.6.2 hands the queued entries as { message, sender }.
      const unhandled = (nctx.mailbox as unknown as MailboxEntry[]).map((e) => e.message);
      const normal = (err as unknown) === NORMAL_EXIT;
      const last = state;
      const reason: ExitReason = normal ? { type: 'normal' } : { type: 'error', error: toErrorInfo(err) };
      // Report first, so new sends are stashed or dead-lettered from now on.
      const inPlace = sctx.exit(reason, unhandled, resettable);
      finish(last).catch(noop);
      if (inPlace) return nctx.reset; // state from init(), queue intact
      // Stop now, not after nact's await: the supervisor may respawn this name at once.
      stop(nctx.self);
      return nctx.resume;
    },
  }) as NactRef;
  actx.ref = ref;
  for (const message of actx.early.splice(0)) dispatch(ref as Ref<unknown>, message);
  const tell = (message: unknown): void => {
    queued++;
    dispatch(ref as Ref<unknown>, message);
  };
  actx.public.tell = (message) => tell(message);

  return {
    deliver: tell,
    introspect: {
      counters: () => ({ mailbox: queued, handled }),
      state: (timeoutMs) => new Promise((resolve, reject) => {
        const timer = sctx.clock.setTimeout(() => reject(new GoatError('GOAT_ERR_ASK_TIMEOUT', `${sctx.path} did not get to its state within ${timeoutMs} ms (busy?)`, { temporary: true, details: { path: sctx.path, timeoutMs } })), timeoutMs);
        tell({ [READ_STATE]: (state: unknown) => {
          sctx.clock.clearTimeout(timer);
          resolve(state);
        } });
      }),
      crash: (error) => tell({ [CRASH]: error }),
      accepts: (message) => {
        if (!behaviour.messages) return `${sctx.path} takes no messages from outside (only $info, $state, $kill)`;
        const r = behaviour.messages.safeParse(message);
        if (r.success) return null;
        const issue = r.error.issues[0];
        return `${sctx.path} does not understand this message: ${issue?.path.join('.') || 'message'}: ${issue?.message ?? 'invalid'}`;
      },
    },
    shutdown: async () => {
      stopping = true;
      if (current) await current;
      stop(ref);
      await finish();
    },
    kill: () => {
      stopping = true;
      stop(ref);
    },
  };
}
