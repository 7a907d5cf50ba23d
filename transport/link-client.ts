/**
 * The worker's end of the link: connects to one of the managers' URLs with
 * the cluster token, says `hello` with its full actual state on every
 * (re)connect, heartbeats (±10 % jitter), notices a silent manager, runs the
 * manager's commands through its handlers and acknowledges them, and
 * reconnects with capped exponential backoff and full jitter, rotating
 * through the URLs.
 */
import WebSocket from 'ws';
import { GoatError } from '../lib/errors.js';
import { detectorConfig, type NodeUsage } from '../lib/model/index.js';
import { systemClock, type Clock, type Random, type TimerId } from '../lib/supervision/index.js';
import { LINK_CLOSE } from './close-codes.js';
import { untrustedError } from '../lib/tls.js';
import { Emitter } from './emitter.js';
import { decodeFrame, type AdminBody, type AssignBody, type ErrorBody, type Frame, type FrameBodyInput, type StopBody, type TaskReport, type WelcomeBody } from './frames.js';
import { LINK_PATH } from './link-server.js';
import type { CommandResult } from './manager-link.js';
import { jittered, reconnectDelay, RECONNECT_DEFAULTS, type ReconnectBackoff } from './reconnect.js';
import { closeSocket, messageText, sendError, sendFrame } from './socket.js';

/** Settings of a {@link LinkClient}. */
export interface LinkClientOptions {
  /** Manager URLs (`ws://host:port`, `wss://` for a TLS manager; `/v1/link` is added when no path is given), tried in turn. */
  urls: string[];
  /** CA certificate(s), PEM, trusted for a wss:// manager besides the system's (`--tls-ca`). */
  ca?: string | Buffer;
  /** The cluster token. */
  token: string;
  /** This node's full actual state, asked for on every (re)connect and sent as `hello`. */
  hello: () => FrameBodyInput<'hello'> | Promise<FrameBodyInput<'hello'>>;
  /** Applies an `assign`; the ack carries what it returns. A rejection is answered with an `error` frame (no ack). */
  onAssign: (body: AssignBody) => Promise<CommandResult>;
  /** Applies a `stop`; as {@link onAssign}. */
  onStop: (body: StopBody) => Promise<CommandResult>;
  /** Answers an `admin` frame (a `send`/`ask` routed by the manager to this worker's tree); a rejection is answered `ok: false`. @default every path unknown */
  onAdmin?: (body: AdminBody) => Promise<unknown>;
  /**
   * Log stream frames (`logs_open`, `logs_credit`, `logs_cancel`) with the
   * function that sends this connection's answers (false once it is closed).
   * @default answered with `logs_end` GOAT_ERR_NOT_IMPLEMENTED
   */
  onLogs?: (frame: Frame<'logs_open' | 'logs_credit' | 'logs_cancel'>, send: LogSend) => void;
  /** What the node's tasks use now, sent in every heartbeat. @default zeros */
  usage?: () => NodeUsage;
  /** Why the node takes no tasks now (undefined when it takes them), sent in every heartbeat. @default always takes them */
  unavailable?: () => string | undefined;
  /** Heartbeat interval, in ms. @default the manager's, from `welcome` */
  heartbeatMs?: number;
  /** Reconnect backoff. @default { initialMs: 500, maxMs: 30000 } */
  backoff?: Partial<ReconnectBackoff>;
  /** Time allowed for the HTTP upgrade, and again for the `welcome` after `hello`, in ms. @default 10000 */
  handshakeTimeoutMs?: number;
  /**
   * Time allowed for the HTTP upgrade alone when there are several manager
   * URLs (HA), in ms. A paused manager (SIGSTOP, a frozen VM) accepts the TCP
   * connection but never answers: the worker must move on to the next URL
   * well within a new leader's recovery grace (2 × the down timeout, 8 s),
   * counted from its election, a lease after the pause. @default 3000
   */
  upgradeTimeoutMs?: number;
  /** Largest frame accepted from the manager, in bytes. @default 1048576 */
  maxPayload?: number;
  /** Random source for jitter. @default Math.random */
  random?: Random;
  /** Where time comes from. @default systemClock */
  clock?: Clock;
  /**
   * The highest leader epoch this node has stored (HA): a `welcome` or a
   * command with an older epoch is refused (error frame GOAT_ERR_NOT_READY,
   * and the link is dropped for the next URL). @default () => 0
   */
  minEpoch?: () => number;
  /** Called with each welcomed epoch not older than {@link minEpoch} (the worker stores the highest); awaited before the link counts as up. */
  onEpoch?: (epoch: number) => void | Promise<void>;
  /** Opens the WebSocket (the deterministic simulation gives a simulated one). @default `new WebSocket(url, options)` from `ws` */
  connect?: (url: string, options: WebSocket.ClientOptions) => WebSocket;
}

/** Sends a log stream frame on the connection a stream was opened on; false when it is closed. */
export type LogSend = <T extends 'logs_data' | 'logs_end'>(type: T, body: FrameBodyInput<T>) => boolean;

/** Where the link stands. */
export type LinkStatus = 'connecting' | 'connected' | 'disconnected';

/** Events of a {@link LinkClient}. */
export interface LinkClientEvents {
  /** The manager welcomed this node. */
  welcome: WelcomeBody;
  /** The link is up (after `welcome`). */
  connected: { url: string; welcome: WelcomeBody };
  /** A connection ended or failed; `retryInMs` is the backoff before the next attempt, null when stopped. */
  disconnected: { url: string; code: number; reason: string; retryInMs: number | null; wasConnected: boolean };
  /** The manager answered a frame with an error. */
  remoteError: ErrorBody & { re?: string };
  /** A follower manager sent this node to the leader (`url`), or said there is none yet (`url` null). */
  redirected: { from: string; url: string | null; retryAfterMs: number };
  /** A welcome or command from an older epoch than the stored one was refused. */
  staleEpoch: { url: string; epoch: number; min: number };
}

interface Session {
  ws: WebSocket;
  url: string;
  welcomed: boolean;
  heartbeatMs: number;
  /** The manager is taken as gone after this long unheard (the welcome's `linkSilenceMs`). */
  silenceMs: number;
  seq: number;
  /** The last `report` frame's `seq` on this socket. */
  reportSeq: number;
  lastHeardAt: number;
  timer: TimerId | null;
  lastError: string;
  /** The epoch of the manager's welcome. */
  epoch: number;
}

const NO_USAGE: NodeUsage = { tasks: 0, memoryMb: 0, cpuSeconds: 0 };

/** A worker's link to the manager. */
export class LinkClient extends Emitter<LinkClientEvents> {
  readonly #o: LinkClientOptions;
  readonly #backoff: ReconnectBackoff;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #inflight = new Map<string, Promise<CommandResult>>();
  #session: Session | null = null;
  #status: LinkStatus = 'disconnected';
  #running = false;
  #attempt = 0;
  #urlIndex = 0;
  #reconnectTimer: TimerId | null = null;
  #disconnectedSince: number | null = null;
  /** Where and when to connect next, as a follower said (redirect / no_leader). */
  #next: { url: string | null; delayMs: number } | null = null;
  #redirects = 0;

  constructor(options: LinkClientOptions) {
    super();
    if (options.urls.length === 0) throw new GoatError('GOAT_ERR_INVALID_SPEC', 'invalid link client options: urls: give at least one', { details: { field: 'urls' } });
    for (const url of options.urls) {
      try {
        linkUrl(url);
      } catch {
        throw new GoatError('GOAT_ERR_INVALID_SPEC', `invalid link client options: urls: not a URL: ${url}`, { details: { field: 'urls', problem: 'not a URL' } });
      }
    }
    this.#o = options;
    this.#backoff = { ...RECONNECT_DEFAULTS, ...options.backoff };
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  /** Where the link stands. */
  get status(): LinkStatus {
    return this.#status;
  }

  /** Since when (clock ms) the node has had no welcomed link — since `start()` before the first one; null while connected. */
  get disconnectedSince(): number | null {
    return this.#disconnectedSince;
  }

  /** The URL of the current connection or attempt. */
  get url(): string | null {
    return this.#session?.url ?? null;
  }

  /** Starts connecting (no-op when started). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#disconnectedSince ??= this.#clock.now();
    this.#connect();
  }

  /** Closes the link (1000) and stops reconnecting; resolves once the socket is closed. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#reconnectTimer !== null) this.#clock.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const session = this.#session;
    if (!session) {
      this.#status = 'disconnected';
      return;
    }
    const closed = new Promise<void>((resolve) => session.ws.once('close', () => resolve()));
    closeSocket(session.ws, LINK_CLOSE.NORMAL.code, 'worker stopping');
    const force = setTimeout(() => session.ws.terminate(), 2_000);
    await closed;
    clearTimeout(force);
  }

  /** Sends task changes to the manager; false when not connected (the next hello carries the full state anyway). */
  report(tasks: TaskReport[]): boolean {
    const s = this.#session;
    if (!s || this.#status !== 'connected') return false;
    return sendFrame(s.ws, 'report', { tasks, seq: ++s.reportSeq });
  }

  /** Sends the worker's tree or a change of it; false when not connected (the next link starts with a snapshot). */
  sendTree(type: 'tree_snapshot' | 'tree_delta', body: FrameBodyInput<'tree_snapshot'> | FrameBodyInput<'tree_delta'>): boolean {
    const s = this.#session;
    if (!s || this.#status !== 'connected') return false;
    return type === 'tree_snapshot' ? sendFrame(s.ws, type, body as FrameBodyInput<'tree_snapshot'>) : sendFrame(s.ws, type, body as FrameBodyInput<'tree_delta'>);
  }

  #onAdmin(session: Session, frameId: string, body: AdminBody): void {
    const run = this.#o.onAdmin ? this.#o.onAdmin(body) : Promise.reject(new GoatError('GOAT_ERR_NO_SUCH_CHILD', `no actor at ${body.path}`));
    run.then(
      (result) => {
        if (!sendFrame(session.ws, 'admin_result', { ok: true, result: result ?? null }, { re: frameId })) return;
      },
      (err: unknown) => void sendFrame(session.ws, 'admin_result', { ok: false, error: { code: codeOf(err).slice(0, 128), message: errorMessage(err).slice(0, 4096) } }, { re: frameId }),
    ).catch((err: unknown) => void sendFrame(session.ws, 'admin_result', { ok: false, error: { code: 'GOAT_ERR_INTERNAL', message: `the answer could not be sent: ${errorMessage(err).slice(0, 4000)}` } }, { re: frameId }));
  }

  #connect(): void {
    this.#reconnectTimer = null;
    const redirected = this.#next?.url ?? null;
    this.#next = null;
    const url = linkUrl(redirected ?? (this.#o.urls[this.#urlIndex++ % this.#o.urls.length] as string));
    this.#status = 'connecting';
    let ws: WebSocket;
    try {
      const wsOptions: WebSocket.ClientOptions = {
        headers: { Authorization: `Bearer ${this.#o.token}` },
        handshakeTimeout: this.#o.urls.length > 1 ? (this.#o.upgradeTimeoutMs ?? 3_000) : (this.#o.handshakeTimeoutMs ?? 10_000),
        maxPayload: this.#o.maxPayload ?? 1024 * 1024,
        perMessageDeflate: false,
        ...(this.#o.ca === undefined ? {} : { ca: [this.#o.ca] }),
      };
      ws = this.#o.connect ? this.#o.connect(url, wsOptions) : new WebSocket(url, wsOptions);
    } catch (err) {
      this.#session = null;
      this.#scheduleReconnect(url, 1006, errorMessage(err), false);
      return;
    }
    const session: Session = { ws, url, welcomed: false, heartbeatMs: 0, silenceMs: 0, seq: 0, reportSeq: 0, lastHeardAt: this.#clock.now(), timer: null, lastError: '', epoch: 0 };
    this.#session = session;
    ws.on('error', (err) => (session.lastError = linkErrorMessage(url, err)));
    ws.on('open', () => void this.#sayHello(session));
    ws.on('message', (data, isBinary) => this.#onMessage(session, messageText(data, isBinary)));
    ws.on('close', (code, reason) => this.#onClose(session, code, reason.toString() || session.lastError));
  }

  async #sayHello(session: Session): Promise<void> {
    session.timer = this.#clock.setTimeout(() => session.ws.terminate(), this.#o.handshakeTimeoutMs ?? 10_000);
    try {
      const hello = await this.#o.hello();
      sendFrame(session.ws, 'hello', hello);
    } catch (err) {
      session.lastError = `hello failed: ${errorMessage(err)}`;
      closeSocket(session.ws, 1011, session.lastError);
    }
  }

  #onMessage(session: Session, text: string | GoatError): void {
    if (session !== this.#session) return;
    const frame = typeof text === 'string' ? decodeFrame(text, 'toWorker') : text;
    if (frame instanceof GoatError) {
      sendError(session.ws, frame, frame.details.re);
      return;
    }
    session.lastHeardAt = this.#clock.now();
    switch (frame.type) {
      case 'welcome':
        return this.#onWelcome(session, frame.body);
      case 'assign':
        return this.#command(session, frame, () => this.#o.onAssign(frame.body));
      case 'stop':
        return this.#command(session, frame, () => this.#o.onStop(frame.body));
      case 'admin':
        return this.#onAdmin(session, frame.id, frame.body);
      case 'logs_open':
      case 'logs_credit':
      case 'logs_cancel': {
        const send: LogSend = (type, body) => session === this.#session && sendFrame(session.ws, type, body);
        if (this.#o.onLogs) return this.#o.onLogs(frame, send);
        if (frame.type === 'logs_open') send('logs_end', { streamId: frame.body.streamId, reason: 'error', code: 'GOAT_ERR_NOT_IMPLEMENTED', message: 'this worker serves no logs' });
        return;
      }
      case 'redirect':
        this.#next = { url: frame.body.url, delayMs: 0 };
        this.emit('redirected', { from: session.url, url: frame.body.url, retryAfterMs: 0 });
        session.lastError = `redirected to the leader ${frame.body.leaderId} at ${frame.body.url}`;
        closeSocket(session.ws, LINK_CLOSE.NORMAL.code, 'redirected');
        return;
      case 'no_leader':
        this.#next = { url: null, delayMs: frame.body.retryAfterMs };
        this.emit('redirected', { from: session.url, url: null, retryAfterMs: frame.body.retryAfterMs });
        session.lastError = `no leader yet (retry after ${frame.body.retryAfterMs} ms)`;
        closeSocket(session.ws, LINK_CLOSE.NORMAL.code, 'no leader');
        return;
      case 'error':
        this.emit('remoteError', { ...frame.body, ...(frame.re === undefined ? {} : { re: frame.re }) });
        return;
      case 'heartbeat_ack':
      case 'ack':
        return; // heard from: that is all they say
    }
  }

  #onWelcome(session: Session, welcome: WelcomeBody): void {
    if (session.welcomed) return;
    const min = this.#o.minEpoch?.() ?? 0;
    if (welcome.epoch < min) {
      this.emit('staleEpoch', { url: session.url, epoch: welcome.epoch, min });
      session.lastError = `manager epoch ${welcome.epoch} is older than ${min}, the highest seen: refused`;
      sendFrame(session.ws, 'error', { code: 'GOAT_ERR_NOT_READY', message: session.lastError });
      closeSocket(session.ws, LINK_CLOSE.NORMAL.code, 'stale epoch');
      return;
    }
    session.welcomed = true;
    session.epoch = welcome.epoch;
    let stored: void | Promise<void>;
    try {
      stored = this.#o.onEpoch?.(welcome.epoch);
    } catch (err) {
      stored = Promise.reject(err);
    }
    // Synchronous unless the epoch is being stored (HA): then the link is up once it is on disk.
    if (stored instanceof Promise) {
      stored.then(() => this.#welcomed(session, welcome), (err: unknown) => {
        session.lastError = `cannot store the epoch: ${errorMessage(err)}`;
        closeSocket(session.ws, 1011, session.lastError);
      });
      return;
    }
    this.#welcomed(session, welcome);
  }

  #welcomed(session: Session, welcome: WelcomeBody): void {
    if (session !== this.#session) return;
    if (session.timer !== null) this.#clock.clearTimeout(session.timer);
    session.heartbeatMs = this.#o.heartbeatMs ?? welcome.heartbeatMs;
    session.silenceMs = welcome.linkSilenceMs ?? detectorConfig({ heartbeatMs: session.heartbeatMs }).linkSilenceMs;
    this.#status = 'connected';
    this.#attempt = 0;
    this.#redirects = 0;
    this.#disconnectedSince = null;
    this.#scheduleHeartbeat(session);
    this.emit('welcome', welcome);
    this.emit('connected', { url: session.url, welcome });
  }

  #scheduleHeartbeat(session: Session): void {
    session.timer = this.#clock.setTimeout(() => {
      if (session !== this.#session) return;
      if (this.#clock.now() - session.lastHeardAt >= session.silenceMs) {
        session.lastError = `manager silent for ${this.#clock.now() - session.lastHeardAt} ms`;
        session.ws.terminate();
        return;
      }
      this.#heartbeat(session);
      this.#scheduleHeartbeat(session);
    }, jittered(session.heartbeatMs, 0.1, this.#random));
  }

  /** Sends one heartbeat; a failing or invalid `usage()` costs the usage figures, never the heartbeat. */
  #heartbeat(session: Session): void {
    const seq = session.seq++;
    try {
      const unavailable = this.#o.unavailable?.();
      sendFrame(session.ws, 'heartbeat', { seq, usage: (this.#o.usage ?? (() => NO_USAGE))(), ...(unavailable === undefined ? {} : { unavailable: unavailable.slice(0, 1024) }) });
    } catch {
      sendFrame(session.ws, 'heartbeat', { seq, usage: NO_USAGE });
    }
  }

  /** Runs a command's handler (once at a time per cmdId: a re-send joins the running one) and acks what it returns. */
  #command(session: Session, frame: Frame<'assign' | 'stop'>, run: () => Promise<CommandResult>): void {
    const { cmdId } = frame.body;
    const epoch = frame.body.epoch ?? session.epoch;
    const min = this.#o.minEpoch?.() ?? 0;
    if (epoch < min) {
      this.emit('staleEpoch', { url: session.url, epoch, min });
      sendFrame(session.ws, 'error', { code: 'GOAT_ERR_NOT_READY', message: `command ${cmdId} from epoch ${epoch}, older than ${min}, the highest seen: refused` }, { re: frame.id });
      return;
    }
    let result = this.#inflight.get(cmdId);
    if (!result) {
      result = Promise.resolve().then(run);
      this.#inflight.set(cmdId, result);
      const forget = (): void => void this.#inflight.delete(cmdId);
      result.then(forget, forget);
    }
    result.then(
      (r: CommandResult | undefined) => sendFrame(session.ws, 'ack', { cmdId, applied: r?.applied === true }, { re: frame.id }),
      (err: unknown) => sendFrame(session.ws, 'error', { code: codeOf(err), message: errorMessage(err).slice(0, 4096) }, { re: frame.id }),
    );
  }

  #onClose(session: Session, code: number, reason: string): void {
    if (session !== this.#session) return;
    if (session.timer !== null) this.#clock.clearTimeout(session.timer);
    this.#session = null;
    if (session.welcomed) this.#disconnectedSince = this.#clock.now();
    this.#scheduleReconnect(session.url, code, reason, session.welcomed);
  }

  #scheduleReconnect(url: string, code: number, reason: string, wasConnected: boolean): void {
    this.#status = 'disconnected';
    if (!this.#running) {
      this.emit('disconnected', { url, code, reason, retryInMs: null, wasConnected });
      return;
    }
    const next = this.#next;
    let retryInMs: number;
    if (next && next.url === null) {
      // no_leader: a live manager said when to come back (an election is on); the backoff starts over.
      this.#attempt = 0;
      this.#redirects = 0;
      retryInMs = next.delayMs;
    } else if (next && this.#redirects++ < 5) {
      retryInMs = next.delayMs; // a redirect goes at once (a few in a row at most, so two followers cannot spin)
    } else {
      retryInMs = reconnectDelay(this.#attempt++, this.#backoff, this.#random);
    }
    this.#reconnectTimer = this.#clock.setTimeout(() => this.#connect(), retryInMs);
    this.emit('disconnected', { url, code, reason, retryInMs, wasConnected });
  }
}

/** The link URL for a manager address: `http(s)` becomes `ws(s)`, and `/v1/link` is added when no path is given. */
export function linkUrl(address: string): string {
  const url = new URL(address);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.pathname === '/' || url.pathname === '') url.pathname = LINK_PATH;
  return url.toString();
}

/** Why a connection failed, in words that say what to do: an untrusted certificate, or plain ws:// to a TLS manager. */
function linkErrorMessage(url: string, err: Error): string {
  const untrusted = untrustedError(new URL(url).origin.replace(/^ws/, 'http'), err);
  if (untrusted) return `${untrusted.message} (${untrusted.code})`;
  if (url.startsWith('ws:') && /Unexpected server response: 400/.test(err.message)) return `${err.message} (a manager with TLS answers plain ws:// so: join with wss:// or https://)`;
  return err.message;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function codeOf(err: unknown): string {
  if (err instanceof GoatError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 && code.length <= 128 ? code : 'GOAT_ERR_RUNTIME';
}
