/**
 * The admin channel, `WS /v1/admin` (DESIGN.md): token-authenticated JSON
 * frames for the REPL and the inspector — `tree`, `send`, `ask`, `subscribe`,
 * and the `tasks`, `nodes`, `services` listings. Every request is answered
 * `{ re, ok: true, result }` or `{ re, ok: false, error: { code, message } }`;
 * events come as `{ type: 'event', event }`. Bad input gets an error answer,
 * never a crash, and never reaches an actor unchecked.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import { GoatError, isGoatError } from '../lib/errors.js';
import { dataCopy } from '../lib/supervision/index.js';
import { bearerMatches } from './auth.js';
import { LINK_PATH } from './link-server.js';

/** The path of the admin channel. */
export const ADMIN_PATH = '/v1/admin';

/** Per-session limits: requests answered but not yet answered, and the size of one `message`. */
export const ADMIN_LIMITS = Object.freeze({
  /** Requests in flight per session; more get GOAT_ERR_BUSY. */
  inFlight: 32,
  /** Bytes of one `send`/`ask` message as JSON; more get GOAT_ERR_TOO_LARGE. */
  messageBytes: 64 * 1024,
  /** Bytes of one frame; a larger one closes the session (1009). */
  frameBytes: 256 * 1024,
});

const request = z.discriminatedUnion('type', [
  z.strictObject({ id: z.string().min(1).max(64), type: z.literal('tree') }),
  z.strictObject({ id: z.string().min(1).max(64), type: z.literal('tasks') }),
  z.strictObject({ id: z.string().min(1).max(64), type: z.literal('nodes') }),
  z.strictObject({ id: z.string().min(1).max(64), type: z.literal('services') }),
  z.strictObject({ id: z.string().min(1).max(64), type: z.literal('subscribe') }),
  z.strictObject({ id: z.string().min(1).max(64), type: z.literal('send'), path: z.string().startsWith('/'), message: z.unknown() }),
  z.strictObject({ id: z.string().min(1).max(64), type: z.literal('ask'), path: z.string().startsWith('/'), message: z.unknown(), timeoutMs: z.number().int().min(1).max(60_000).optional() }),
]);

/** A request on the admin channel. */
export type AdminRequest = z.output<typeof request>;

/** What the admin channel needs from the manager. */
export interface AdminApi {
  /** Answers one request (throws GoatErrors for bad paths, timeouts …). */
  handle(req: Exclude<AdminRequest, { type: 'subscribe' }>): Promise<unknown>;
  /** Subscribes to the cluster's events; returns the unsubscribe function. */
  subscribe(listener: (event: unknown) => void): () => void;
}

/** Serves `/v1/admin` on an HTTP server. */
export class AdminServer {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: ADMIN_LIMITS.frameBytes });

  constructor(
    private readonly api: AdminApi,
    private readonly token: string,
  ) {}

  /** Handles upgrades for {@link ADMIN_PATH}; leaves other paths to other listeners. */
  attach(server: Server): void {
    server.prependListener('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === LINK_PATH) return; // the link server's
      if (path !== ADMIN_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"code":"GOAT_ERR_NOT_FOUND","message":"no WebSocket endpoint here","details":{}}}');
        return;
      }
      if (!bearerMatches(this.token, req.headers.authorization)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"code":"GOAT_ERR_UNAUTHORIZED","message":"missing or wrong bearer token","details":{}}}');
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#session(ws));
    });
  }

  /** Closes every admin session. */
  close(): void {
    for (const ws of this.#wss.clients) ws.close(1001, 'manager stopping');
    this.#wss.close();
  }

  #session(ws: WebSocket): void {
    let off: (() => void) | null = null;
    let inFlight = 0;
    const reply = (frame: unknown): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    ws.on('close', () => off?.());
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      let raw: unknown;
      try {
        raw = JSON.parse(String(data));
      } catch {
        return reply({ re: null, ok: false, error: { code: 'GOAT_ERR_BAD_FRAME', message: 'not JSON' } });
      }
      const parsed = request.safeParse(raw);
      const re = (raw as { id?: unknown } | null)?.id ?? null;
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return reply({ re, ok: false, error: { code: 'GOAT_ERR_BAD_FRAME', message: `${issue?.path.join('.') || 'frame'}: ${issue?.message ?? 'invalid'}` } });
      }
      const req = parsed.data;
      if (req.type === 'subscribe') {
        off ??= this.api.subscribe((event) => reply({ type: 'event', event }));
        return reply({ re: req.id, ok: true, result: 'subscribed' });
      }
      if (inFlight >= ADMIN_LIMITS.inFlight) {
        return reply({ re: req.id, ok: false, error: { code: 'GOAT_ERR_BUSY', message: `${inFlight} requests in flight on this session (max ${ADMIN_LIMITS.inFlight}): wait for their answers` } });
      }
      if ((req.type === 'send' || req.type === 'ask') && (JSON.stringify(req.message ?? null)?.length ?? 0) > ADMIN_LIMITS.messageBytes) {
        return reply({ re: req.id, ok: false, error: { code: 'GOAT_ERR_TOO_LARGE', message: `message larger than ${ADMIN_LIMITS.messageBytes} bytes` } });
      }
      inFlight++;
      let answer: Promise<unknown>;
      try {
        answer = this.api.handle(req);
      } catch (err) {
        answer = Promise.reject(err);
      }
      answer.then(
        (result) => reply({ re: req.id, ok: true, result: toWire(result) }),
        (err: unknown) => reply({ re: req.id, ok: false, error: isGoatError(err) ? { code: err.code, message: err.message } : { code: 'GOAT_ERR_INTERNAL', message: String(err) } }),
      ).finally(() => inFlight--);
    });
  }
}

/** A result as JSON can carry it (an actor may reply with anything). */
function toWire(result: unknown): unknown {
  try {
    JSON.stringify(result);
    return result;
  } catch {
    return dataCopy(result);
  }
}

/** The error for a path with no actor behind it. */
export function noSuchActor(path: string): GoatError {
  return new GoatError('GOAT_ERR_NO_SUCH_CHILD', `no actor at ${path}`, { details: { path } });
}
