/**
 * The manager's end of one worker's link, after its `hello`: heartbeats
 * answered and watched, reports passed on, commands (`assign`, `stop`)
 * re-sent until the worker acknowledges them, bad frames answered and
 * counted. One instance per connection; a closed link stays closed.
 */
import type WebSocket from 'ws';
import { GoatError, type GoatErrorCode } from '../lib/errors.js';
import type { Clock, TimerId } from '../lib/supervision/index.js';
import { LINK_CLOSE } from './close-codes.js';
import { Emitter } from './emitter.js';
import { decodeFrame, encodeFrame, newId, type ErrorBody, type Frame, type FrameBodyInput, type HeartbeatBody, type HelloBody, type ReportBody, type AdminBody, type TreeDeltaBody, type TreeSnapshotBody } from './frames.js';
import { closeSocket, messageText, sendError, sendFrame, sendText } from './socket.js';

/** The commands a manager sends, acknowledged by the worker. */
export type CommandType = 'assign' | 'stop';

/** A command body; `cmdId` is generated when not given (give one to keep it across links). */
export type CommandBody<T extends CommandType> = Omit<FrameBodyInput<T>, 'cmdId'> & { cmdId?: string };

/** What a worker answered to a command. */
export interface CommandResult {
  /** False when the worker had already applied it (or a newer generation). */
  applied: boolean;
}

/** Events of a {@link ManagerLink}. */
export interface ManagerLinkEvents {
  /** A heartbeat arrived (already answered). */
  heartbeat: HeartbeatBody;
  /** The worker reported task changes. */
  report: ReportBody;
  /** The worker answered a frame with an error (`re`: that frame; `cmdId` when it was a command). */
  remoteError: ErrorBody & { re?: string; cmdId?: string };
  /** The worker sent its supervision tree, or what changed in it. */
  tree: { type: 'tree_snapshot'; body: TreeSnapshotBody } | { type: 'tree_delta'; body: TreeDeltaBody };
  /** A log stream frame from the worker (see logs-frames.ts). */
  logs: Frame<'logs_data' | 'logs_end'>;
  /** The link closed, for any reason; emitted once. */
  close: { code: number; reason: string };
}

/** Settings of a {@link ManagerLink}, given by its server. */
export interface ManagerLinkOptions {
  /** A link silent this long is closed (the detector configuration's `linkSilenceMs`). */
  silenceMs: number;
  retryMs: number;
  maxBadFrames: number;
  /** Bad frames already seen before the hello. */
  badFrames: number;
  clock: Clock;
  /** The peer's address, for logs. */
  remoteAddress: string;
}

interface Pending {
  frameId: string;
  text: string;
  timer: TimerId;
  promise: Promise<CommandResult>;
  resolve: (r: CommandResult) => void;
  reject: (e: GoatError) => void;
}

/** One worker's link, as the manager sees it. */
export class ManagerLink extends Emitter<ManagerLinkEvents> {
  /** The worker's hello: who it is and everything it runs. */
  readonly hello: HelloBody;
  /** The peer's address. */
  readonly remoteAddress: string;
  #lastSeenAt: number;
  #badFrames: number;
  #closed: { code: number; reason: string } | null = null;
  #silenceTimer: TimerId | null = null;
  /** How late the silence timer fired since the last frame: the manager's own stalls, not the worker's silence. */
  #stallCredit = 0;
  readonly #pending = new Map<string, Pending>();
  /** Admin calls waiting for their `admin_result`, by the `admin` frame's id. */
  readonly #admin = new Map<string, { resolve: (v: unknown) => void; reject: (e: GoatError) => void; timer: TimerId }>();
  readonly #ws: WebSocket;
  readonly #o: ManagerLinkOptions;

  constructor(ws: WebSocket, hello: HelloBody, options: ManagerLinkOptions) {
    super();
    this.#ws = ws;
    this.#o = options;
    this.hello = hello;
    this.remoteAddress = options.remoteAddress;
    this.#badFrames = options.badFrames;
    this.#lastSeenAt = options.clock.now();
    ws.on('message', (data, isBinary) => this.#onMessage(messageText(data, isBinary)));
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString()));
    this.#armSilence(this.#silenceMs);
  }

  /** The node id the worker gave in its hello. */
  get nodeId(): string {
    return this.hello.nodeId;
  }

  /** When the last frame from the worker arrived (clock ms). */
  get lastSeenAt(): number {
    return this.#lastSeenAt;
  }

  /** True until the link closes. */
  get open(): boolean {
    return this.#closed === null;
  }

  /** How many commands wait for their ack. */
  get pendingCommands(): number {
    return this.#pending.size;
  }

  /** Sends a frame; false when the link is closed. Throws GOAT_ERR_BAD_FRAME for an invalid body. */
  send<T extends 'welcome' | 'heartbeat_ack' | 'ack' | 'error' | 'logs_open' | 'logs_credit' | 'logs_cancel'>(type: T, body: FrameBodyInput<T>, re?: string): boolean {
    return sendFrame(this.#ws, type, body, re === undefined ? {} : { re });
  }

  /**
   * Sends a command and re-sends it (same frame, same `cmdId`) every
   * `retryMs` until the worker acks it; resolves with the ack. Rejects with
   * GOAT_ERR_LINK_CLOSED when the link closes first (the worker's next hello
   * tells what it applied). A command whose `cmdId` is already pending
   * returns that command's promise.
   */
  command<T extends CommandType>(type: T, body: CommandBody<T>): Promise<CommandResult> {
    const cmdId = body.cmdId ?? newId();
    const existing = this.#pending.get(cmdId);
    if (existing) return existing.promise;
    if (this.#closed) return Promise.reject(this.#closedError(cmdId));
    const frameId = newId();
    const text = encodeFrame(type, { ...body, cmdId } as FrameBodyInput<T>, { id: frameId });
    let resolve!: (r: CommandResult) => void;
    let reject!: (e: GoatError) => void;
    const promise = new Promise<CommandResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const pending: Pending = { frameId, text, timer: null, promise, resolve, reject };
    this.#pending.set(cmdId, pending);
    const attempt = (): void => {
      if (!this.#pending.has(cmdId)) return;
      sendText(this.#ws, text);
      pending.timer = this.#o.clock.setTimeout(attempt, this.#o.retryMs);
    };
    attempt();
    return promise;
  }

  /** Closes the link (pending commands reject with GOAT_ERR_LINK_CLOSED). */
  close(code: number = LINK_CLOSE.NORMAL.code, reason = 'closed'): void {
    closeSocket(this.#ws, code, reason);
    this.#finish(code, reason);
  }

  get #silenceMs(): number {
    return this.#o.silenceMs;
  }

  /**
   * Closes the link once the worker has been silent for `silenceMs`. A timer
   * that fires late means this process itself was blocked (frames sent
   * meanwhile are still unread): that lateness is credited to the worker.
   */
  #armSilence(ms: number): void {
    const due = this.#o.clock.now() + ms;
    this.#silenceTimer = this.#o.clock.setTimeout(() => {
      if (this.#closed) return;
      const now = this.#o.clock.now();
      if (now > due) this.#stallCredit += now - due;
      const left = this.#lastSeenAt + this.#silenceMs + this.#stallCredit - now;
      if (left > 0) return this.#armSilence(left);
      this.close(LINK_CLOSE.SILENT.code, `no heartbeat for ${this.#silenceMs} ms`);
    }, ms);
  }

  #onMessage(text: string | GoatError): void {
    if (this.#closed) return;
    const frame = typeof text === 'string' ? decodeFrame(text, 'toManager') : text;
    if (frame instanceof GoatError) return this.#bad(frame);
    this.#lastSeenAt = this.#o.clock.now();
    this.#stallCredit = 0;
    this.#handle(frame);
  }

  /**
   * Sends an admin `send`/`ask` to an actor of the worker's tree and waits
   * for its answer: GOAT_ERR_ASK_TIMEOUT after `timeoutMs` (plus a second for
   * the round trip), GOAT_ERR_LINK_CLOSED if the link goes first. Never hangs.
   */
  admin(body: AdminBody): Promise<unknown> {
    if (this.#closed) return Promise.reject(new GoatError('GOAT_ERR_LINK_CLOSED', `link to node ${this.nodeId} is closed`, { temporary: true, details: { nodeId: this.nodeId } }));
    const frameId = newId();
    return new Promise((resolve, reject) => {
      const timer = this.#o.clock.setTimeout(() => {
        this.#admin.delete(frameId);
        reject(new GoatError('GOAT_ERR_ASK_TIMEOUT', `no answer from ${body.path} on node ${this.nodeId} within ${body.timeoutMs} ms`, { temporary: true, details: { path: body.path, nodeId: this.nodeId, timeoutMs: body.timeoutMs } }));
      }, body.timeoutMs + 1_000);
      this.#admin.set(frameId, { resolve, reject, timer });
      if (!sendFrame(this.#ws, 'admin', body, { id: frameId })) {
        this.#o.clock.clearTimeout(timer);
        this.#admin.delete(frameId);
        reject(new GoatError('GOAT_ERR_LINK_CLOSED', `link to node ${this.nodeId} is not open`, { temporary: true, details: { nodeId: this.nodeId } }));
      }
    });
  }

  #handle(frame: Frame<'hello' | 'heartbeat' | 'report' | 'tree_snapshot' | 'tree_delta' | 'admin_result' | 'ack' | 'error' | 'logs_data' | 'logs_end'>): void {
    switch (frame.type) {
      case 'logs_data':
      case 'logs_end':
        this.emit('logs', frame);
        return;
      case 'tree_snapshot':
        this.emit('tree', { type: 'tree_snapshot', body: frame.body });
        return;
      case 'tree_delta':
        this.emit('tree', { type: 'tree_delta', body: frame.body });
        return;
      case 'admin_result': {
        const waiting = frame.re === undefined ? undefined : this.#admin.get(frame.re);
        if (!waiting) return; // too late: it timed out
        this.#admin.delete(frame.re!);
        this.#o.clock.clearTimeout(waiting.timer);
        if (frame.body.ok) waiting.resolve(frame.body.result ?? null);
        else waiting.reject(new GoatError((frame.body.error?.code ?? 'GOAT_ERR_INTERNAL') as GoatErrorCode, frame.body.error?.message ?? 'the worker failed the admin call', { details: { nodeId: this.nodeId } }));
        return;
      }
      case 'heartbeat':
        this.send('heartbeat_ack', { seq: frame.body.seq }, frame.id);
        this.emit('heartbeat', frame.body);
        return;
      case 'report':
        this.emit('report', frame.body);
        return;
      case 'ack': {
        const pending = this.#pending.get(frame.body.cmdId);
        if (!pending) return; // a duplicate ack of a re-sent command
        this.#pending.delete(frame.body.cmdId);
        this.#o.clock.clearTimeout(pending.timer);
        pending.resolve({ applied: frame.body.applied });
        return;
      }
      case 'error': {
        const cmdId = frame.re === undefined ? undefined : this.#commandOfFrame(frame.re);
        this.emit('remoteError', { ...frame.body, ...(frame.re === undefined ? {} : { re: frame.re }), ...(cmdId === undefined ? {} : { cmdId }) });
        return;
      }
      case 'hello':
        return this.#bad(new GoatError('GOAT_ERR_BAD_FRAME', 'bad frame: type: hello already received on this link', {
          details: { field: 'type', problem: 'unexpected hello', re: frame.id },
        }));
    }
  }

  /** The pending command whose frame has id `frameId`. */
  #commandOfFrame(frameId: string): string | undefined {
    for (const [cmdId, p] of this.#pending) if (p.frameId === frameId) return cmdId;
    return undefined;
  }

  #bad(err: GoatError): void {
    this.#badFrames++;
    sendError(this.#ws, err, err.details.re);
    if (this.#badFrames >= this.#o.maxBadFrames) this.close(LINK_CLOSE.BAD_FRAMES.code, `${this.#badFrames} bad frames`);
  }

  #onClose(code: number, reason: string): void {
    this.#finish(code, reason);
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = { code, reason };
    if (this.#silenceTimer !== null) this.#o.clock.clearTimeout(this.#silenceTimer);
    for (const [cmdId, p] of this.#pending) {
      this.#o.clock.clearTimeout(p.timer);
      p.reject(this.#closedError(cmdId));
    }
    this.#pending.clear();
    for (const a of this.#admin.values()) {
      this.#o.clock.clearTimeout(a.timer);
      a.reject(new GoatError('GOAT_ERR_LINK_CLOSED', `link to node ${this.nodeId} closed before the worker answered`, { temporary: true, details: { nodeId: this.nodeId } }));
    }
    this.#admin.clear();
    this.emit('close', { code, reason });
  }

  #closedError(cmdId: string): GoatError {
    const closed = this.#closed;
    return new GoatError('GOAT_ERR_LINK_CLOSED', `link to node ${this.nodeId} closed before command ${cmdId} was acknowledged`, {
      temporary: true,
      details: { nodeId: this.nodeId, cmdId, ...(closed ? { closeCode: closed.code, closeReason: closed.reason } : {}) },
    });
  }
}
