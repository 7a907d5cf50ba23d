/**
 * The manager's link server: WebSocket upgrades on `/v1/link`, the cluster
 * token checked before any upgrade (401 on the raw socket, repeated failures
 * slowed down), then a `hello` within a timeout, then one {@link ManagerLink}
 * per worker. A bad peer never crashes the process or disturbs other links.
 */
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { GoatError, type GoatErrorCode } from '../lib/errors.js';
import { systemClock, type Clock, type TimerId } from '../lib/supervision/index.js';
import { detectorConfig, type DetectorConfig } from '../lib/model/index.js';
import { AuthThrottle, bearerMatches, type AuthThrottleOptions } from './auth.js';
import { LINK_CLOSE } from './close-codes.js';
import { Emitter } from './emitter.js';
import { decodeFrame, type HelloBody } from './frames.js';
import { ManagerLink } from './manager-link.js';
import { closeSocket, messageText, sendError } from './socket.js';

/** Wrong-token answers held back at most at once; beyond, they are refused (429) at once, so a flood holds no memory. */
const MAX_DELAYED = 1_024;

/** The path workers connect to. */
export const LINK_PATH = '/v1/link';

/** Settings of a {@link LinkServer}. */
export interface LinkServerOptions {
  /** The cluster token workers must present as `Authorization: Bearer <token>`. */
  token: string;
  /** Heartbeat interval told to workers in `welcome`. @default DETECTOR_DEFAULTS.heartbeatMs */
  heartbeatMs?: number;
  /** The failure-detector configuration told to workers in `welcome` (overrides `heartbeatMs`); a link silent for its `linkSilenceMs` is closed (4008). @default detectorConfig({ heartbeatMs }) */
  detector?: Partial<DetectorConfig>;
  /** Largest frame accepted, in bytes; larger ones close the link with 1009. @default 1048576 (1 MiB) */
  maxPayload?: number;
  /**
   * Decides on a valid hello before the welcome: the cluster id to welcome
   * the worker with, or an error sent back (an `error` frame) before the link
   * is closed (4003): a worker of another cluster. @default every worker, no cluster id
   */
  admit?: (hello: HelloBody) => { clusterId?: string } | GoatError;
  /** Time allowed between the upgrade and a valid `hello`, else close 4001. @default 5000 */
  helloTimeoutMs?: number;
  /** A command is re-sent this often until acknowledged, in ms. @default 2000 */
  retryMs?: number;
  /** Bad frames tolerated on one link before closing it with 4002. @default 3 */
  maxBadFrames?: number;
  /** The manager's epoch, sent in every `welcome` (bumped when a manager takes over). @default () => 0 */
  epoch?: () => number;
  /** How failed token checks are slowed down (see {@link AuthThrottle}). */
  authThrottle?: Partial<AuthThrottleOptions>;
  /** Where time comes from. @default systemClock */
  clock?: Clock;
}

/** An upgrade the server refused. */
export interface LinkRejection {
  address: string;
  /** HTTP status written: 401 wrong or missing token, 429 too many failures, 503 server closed. */
  status: number;
  reason: string;
}

/** Events of a {@link LinkServer}. */
export interface LinkServerEvents {
  /** A worker said hello and was welcomed. */
  link: ManagerLink;
  /** An upgrade was refused before any WebSocket existed. */
  rejected: LinkRejection;
}

/** Accepts worker links. */
export class LinkServer extends Emitter<LinkServerEvents> {
  readonly #token: string;
  readonly #detector: DetectorConfig;
  readonly #helloTimeoutMs: number;
  readonly #admit: (hello: HelloBody) => { clusterId?: string } | GoatError;
  readonly #retryMs: number;
  readonly #maxBadFrames: number;
  readonly #epoch: () => number;
  readonly #clock: Clock;
  readonly #throttle: AuthThrottle;
  readonly #wss: WebSocketServer;
  readonly #links = new Set<ManagerLink>();
  readonly #handshaking = new Set<WebSocket>();
  readonly #waiting = new Map<Duplex, TimerId>();
  #closed = false;

  constructor(options: LinkServerOptions) {
    super();
    if (!options.token) throw new GoatError('GOAT_ERR_INVALID_SPEC', 'invalid link server options: token: must not be empty', { details: { field: 'token' } });
    this.#token = options.token;
    this.#detector = detectorConfig({ ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }), ...options.detector });
    this.#helloTimeoutMs = options.helloTimeoutMs ?? 5_000;
    this.#admit = options.admit ?? (() => ({}));
    this.#retryMs = options.retryMs ?? 2_000;
    this.#maxBadFrames = options.maxBadFrames ?? 3;
    this.#epoch = options.epoch ?? (() => 0);
    this.#clock = options.clock ?? systemClock;
    this.#throttle = new AuthThrottle(this.#clock, options.authThrottle);
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload ?? 1024 * 1024, clientTracking: false, perMessageDeflate: false });
  }

  /** The open links (after hello). */
  get links(): ReadonlySet<ManagerLink> {
    return this.#links;
  }

  /** Adds a listener for new links; returns the function that removes it. */
  onLink(listener: (link: ManagerLink) => void): () => void {
    return this.on('link', listener);
  }

  /**
   * Wires {@link handleUpgrade} to `server`'s `upgrade` event. An upgrade
   * for another path is left to other listeners, or answered 404 when there
   * is none. Returns the function that unwires it.
   */
  attach(server: Server): () => void {
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      if (this.handleUpgrade(req, socket, head)) return;
      if (server.listenerCount('upgrade') === 1) refuse(socket, 404, 'GOAT_ERR_NOT_FOUND', `no WebSocket endpoint at ${req.url ?? ''}`);
    };
    server.on('upgrade', listener);
    return () => server.off('upgrade', listener);
  }

  /**
   * Handles an HTTP upgrade request: false (and nothing touched) when its
   * path is not {@link LINK_PATH}; otherwise true, and the socket is this
   * server's: checked, then upgraded or answered 401/429/503.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (pathOf(req.url) !== LINK_PATH) return false;
    socket.on('error', ignore); // a reset while we wait must not become an uncaught error
    if (this.#closed) {
      this.#refuse(req, socket, 503, 'GOAT_ERR_NOT_READY', 'the link server is closed');
      return true;
    }
    const address = req.socket.remoteAddress ?? 'unknown';
    // The token is looked at first (constant time, cheap): a correct one is never slowed down or refused,
    // however many wrong ones came from the same address (issue 11: a flood must not lock the real worker out).
    if (bearerMatches(this.#token, req.headers.authorization)) {
      this.#upgrade(req, socket, head, address);
      return true;
    }
    // A wrong one is answered late: after the failures of this address so far (a guesser waits), or 429 at once.
    const wait = this.#waiting.size >= MAX_DELAYED ? null : this.#throttle.admit(address);
    this.#throttle.fail(address);
    if (wait === null) {
      this.#refuse(req, socket, 429, 'GOAT_ERR_UNAUTHORIZED', 'too many failed attempts from this address; retry later');
      return true;
    }
    if (wait === 0) {
      this.#unauthorized(req, socket);
    } else {
      const timer = this.#clock.setTimeout(() => {
        this.#waiting.delete(socket);
        this.#unauthorized(req, socket);
      }, wait);
      this.#waiting.set(socket, timer);
    }
    return true;
  }

  /** Stops accepting links and closes every link (1001) and pending upgrade. */
  close(): void {
    this.#closed = true;
    for (const [socket, timer] of this.#waiting) {
      this.#clock.clearTimeout(timer);
      socket.destroy();
    }
    this.#waiting.clear();
    for (const ws of this.#handshaking) closeSocket(ws, LINK_CLOSE.GOING_AWAY.code, 'shutting down');
    for (const link of this.#links) link.close(LINK_CLOSE.GOING_AWAY.code, 'shutting down');
    this.#wss.close();
  }

  /**
   * Takes a WebSocket already upgraded and authenticated elsewhere (the
   * deterministic simulation's sockets): waits for its hello, as after an upgrade.
   */
  acceptSocket(ws: WebSocket, address: string): void {
    if (this.#closed) return closeSocket(ws, LINK_CLOSE.GOING_AWAY.code, 'shutting down');
    this.#accept(ws, address);
  }

  #unauthorized(req: IncomingMessage, socket: Duplex): void {
    if (socket.destroyed) return;
    this.#refuse(req, socket, 401, 'GOAT_ERR_UNAUTHORIZED', req.headers.authorization ? 'wrong token' : 'missing token: send Authorization: Bearer <token>');
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, address: string): void {
    socket.off('error', ignore);
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, address));
  }

  #refuse(req: IncomingMessage, socket: Duplex, status: number, code: GoatErrorCode, message: string): void {
    refuse(socket, status, code, message);
    this.emit('rejected', { address: req.socket.remoteAddress ?? 'unknown', status, reason: message });
  }

  /** After the upgrade: wait for a valid hello, then welcome the worker and hand its link out. */
  #accept(ws: WebSocket, address: string): void {
    ws.on('error', ignore); // ws closes the socket itself after an error (e.g. 1009)
    this.#handshaking.add(ws);
    let badFrames = 0;
    const timer = this.#clock.setTimeout(() => closeSocket(ws, LINK_CLOSE.HELLO_TIMEOUT.code, `no hello within ${this.#helloTimeoutMs} ms`), this.#helloTimeoutMs);
    const done = (): void => {
      this.#clock.clearTimeout(timer);
      this.#handshaking.delete(ws);
      ws.off('message', onMessage);
      ws.off('close', done);
    };
    const onMessage = (data: Parameters<typeof messageText>[0], isBinary: boolean): void => {
      const text = messageText(data, isBinary);
      const frame = typeof text === 'string' ? decodeFrame(text, 'toManager') : text;
      if (frame instanceof GoatError || frame.type !== 'hello') {
        const err = frame instanceof GoatError ? frame : new GoatError('GOAT_ERR_BAD_FRAME', `bad frame: type: expected hello first, got ${frame.type}`, {
          details: { field: 'type', problem: 'hello expected first', re: frame.id },
        });
        sendError(ws, err, err.details.re);
        if (++badFrames >= this.#maxBadFrames) {
          done();
          closeSocket(ws, LINK_CLOSE.BAD_FRAMES.code, `${badFrames} bad frames`);
        }
        return;
      }
      done();
      const admitted = this.#admit(frame.body);
      if (admitted instanceof GoatError) {
        sendError(ws, admitted, frame.id);
        closeSocket(ws, LINK_CLOSE.FOREIGN_CLUSTER.code, `refused: ${admitted.code}`); // the whole reason is in the error frame
        return;
      }
      const link = new ManagerLink(ws, frame.body, {
        silenceMs: this.#detector.linkSilenceMs, retryMs: this.#retryMs, maxBadFrames: this.#maxBadFrames, badFrames, clock: this.#clock, remoteAddress: address,
      });
      this.#links.add(link);
      link.on('close', () => this.#links.delete(link));
      const d = this.#detector;
      link.send('welcome', {
        nodeId: link.nodeId, heartbeatMs: d.heartbeatMs, epoch: this.#epoch(),
        suspectAfterMs: d.suspectAfterMs, downAfterMs: d.downAfterMs, linkSilenceMs: d.linkSilenceMs,
        ...(admitted.clusterId === undefined ? {} : { clusterId: admitted.clusterId }),
      }, frame.id);
      this.emit('link', link);
    };
    ws.on('message', onMessage);
    ws.on('close', done);
  }
}

function ignore(): void {}

function pathOf(url: string | undefined): string | null {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return null;
  }
}

/** Answers an upgrade request with a plain HTTP error on the raw socket and closes it. */
function refuse(socket: Duplex, status: number, code: GoatErrorCode, message: string): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify({ error: { code, message, details: {} } });
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(status === 401 ? ['WWW-Authenticate: Bearer'] : []),
    ...(status === 429 ? ['Retry-After: 2'] : []),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}
