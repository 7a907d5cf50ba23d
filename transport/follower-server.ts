/**
 * What a follower manager (HA, several managers on etcd) serves on its port
 * while another leads:
 *
 * - `GET /healthz` → 200 `{ ok: true, role: 'follower' }`;
 *   `GET /readyz` → 503 `{ role: 'follower', leader }` (leader null while
 *   there is none).
 * - `GET /metrics`: its own, `goat_leader 0` and `goat_epoch` (the leader's
 *   it knows, 0 for none), behind the token only with `metricsToken`.
 * - `/v1/*`: the token is checked here (401), then the request is
 *   forwarded to the leader — waiting up to `forwardWaitMs` (5 s) while
 *   there is none (an election) — and the leader's answer is passed back as
 *   is; with no leader in time, 503 GOAT_ERR_NOT_READY with `Retry-After`.
 * - With no leader known (an election, or etcd's quorum lost), a `GET /v1/*`
 *   is answered by `staleRead` when given: from etcd's local copy, marked
 *   `Goat-Stale: true` (reads say they may be stale); `/readyz` then says
 *   `stale: true`. Writes wait for a leader as above.
 * - A worker link (`/v1/link`): the token is checked before any upgrade
 *   (401), then one frame — `redirect` naming the leader's URL and epoch, or
 *   `no_leader` with a retry delay — and the link is closed.
 */
import { request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { untrustedError, type TlsServerCredentials } from '../lib/tls.js';
import { createApiServer } from './tls-server.js';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { GoatError } from '../lib/errors.js';
import type { LeaderInfo } from '../lib/ha/election.js';
import { bearerMatches } from './auth.js';
import { LINK_CLOSE } from './close-codes.js';
import { LINK_PATH } from './link-server.js';
import { closeSocket, sendFrame } from './socket.js';

/** Settings of a follower's server. */
export interface FollowerServerOptions {
  /** The cluster token. */
  token: string;
  /** Who leads now (null: nobody). */
  leader: () => LeaderInfo | null;
  /** How long a forwarded request waits for a leader during an election, ms. @default 5000 */
  forwardWaitMs?: number;
  /** The delay a worker is told to wait when there is no leader, ms. @default 500 */
  retryAfterMs?: number;
  /** Serve over TLS with this certificate and key (as the leader does). @default plain HTTP */
  tls?: TlsServerCredentials | undefined;
  /** CA certificate(s), PEM, trusted for an https:// leader besides the system's. */
  ca?: Buffer | undefined;
  /** Answers a `GET /v1/*` (token checked, body unread) while there is no leader: a read that may be stale. @default none: it waits for a leader like a write */
  staleRead?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Require the token on `/metrics` (as the leader's `api.metricsToken`). @default false */
  metricsToken?: boolean;
}

/** A follower's `/metrics` (Prometheus text): it does not lead; the epoch of the leader it knows. */
export function followerMetrics(leader: LeaderInfo | null): string {
  return [
    '# HELP goat_leader 1 when this manager leads (a single manager always does), 0 for a follower.',
    '# TYPE goat_leader gauge',
    'goat_leader 0',
    '# HELP goat_epoch The epoch of the leader this manager knows (HA; 0 for a single manager or while nobody leads).',
    '# TYPE goat_epoch gauge',
    `goat_epoch ${leader?.epoch ?? 0}`,
    '',
  ].join('\n');
}

const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, err: GoatError, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: err.toJSON() }, headers);
}

async function waitForLeader(leader: () => LeaderInfo | null, ms: number): Promise<LeaderInfo | null> {
  const until = Date.now() + ms;
  for (;;) {
    const l = leader();
    if (l || Date.now() >= until) return l;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Forwards `req` (its body already read) to `base`; resolves false when the leader could not be reached at all. */
function forward(req: IncomingMessage, body: Buffer, res: ServerResponse, base: string, ca: Buffer | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const target = new URL(req.url ?? '/', base);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_HEADERS.has(k)) headers[k] = v;
    headers['content-length'] = String(body.length);
    const tls = target.protocol === 'https:';
    const out = (tls ? httpsRequest : httpRequest)(target, { method: req.method ?? 'GET', headers, ...(tls && ca ? { ca: [ca] } : {}) }, (up) => {
      const h: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_HEADERS.has(k)) h[k] = v;
      h['x-goat-forwarded-to'] = base;
      res.writeHead(up.statusCode ?? 502, h);
      up.pipe(res);
      up.on('end', () => resolve(true));
      up.on('error', () => {
        res.destroy();
        resolve(true);
      });
    });
    out.on('error', (err: NodeJS.ErrnoException) => {
      // Refused: nothing reached the leader (it is just gone); anything else may have, so it is not retried.
      if (err.code === 'ECONNREFUSED') return resolve(false);
      const untrusted = untrustedError(base, err);
      if (!res.headersSent) sendError(res, 503, untrusted ?? new GoatError('GOAT_ERR_NOT_READY', `the leader at ${base} did not answer: ${err.message}`, { temporary: true }), { 'retry-after': '1' });
      else res.destroy();
      resolve(true);
    });
    res.on('close', () => out.destroy());
    out.end(body);
  });
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new GoatError('GOAT_ERR_TOO_LARGE', `request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The follower's HTTP server (not listening yet). */
export function createFollowerServer(o: FollowerServerOptions): Server {
  const waitMs = o.forwardWaitMs ?? 5_000;
  const server = createApiServer((req, res) => void handle(req, res).catch((err: unknown) => {
    if (res.headersSent) return res.destroy();
    if (err instanceof GoatError && err.code === 'GOAT_ERR_TOO_LARGE') return sendError(res, 413, err);
    sendError(res, 500, new GoatError('GOAT_ERR_INTERNAL', err instanceof Error ? err.message : String(err)));
  }), o.tls);
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { ok: true, role: 'follower' });
    if (req.method === 'GET' && path === '/readyz') {
      const leader = o.leader();
      return sendJson(res, 503, { role: 'follower', leader, ...(leader ? {} : { stale: true }) });
    }
    if (req.method === 'GET' && path === '/metrics' && (!o.metricsToken || bearerMatches(o.token, req.headers.authorization))) {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(followerMetrics(o.leader()));
      return;
    }
    if (!path.startsWith('/v1/') && path !== '/metrics') return sendError(res, 404, new GoatError('GOAT_ERR_NOT_FOUND', `no route ${req.method ?? ''} ${path}`));
    if (!bearerMatches(o.token, req.headers.authorization)) {
      return sendError(res, 401, new GoatError('GOAT_ERR_UNAUTHORIZED', 'missing or wrong cluster token (Authorization: Bearer <token>)'), { 'www-authenticate': 'Bearer' });
    }
    if (req.method === 'GET' && path.startsWith('/v1/') && o.staleRead && !o.leader()) return o.staleRead(req, res);
    const body = await readBody(req, 1 << 20);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const leader = await waitForLeader(o.leader, Math.max(0, deadline - Date.now()));
      if (!leader) {
        return sendError(res, 503, new GoatError('GOAT_ERR_NOT_READY', `this manager is a follower and no leader was elected within ${waitMs} ms; retry`, { temporary: true, details: { role: 'follower' } }), { 'retry-after': '1' });
      }
      if (await forward(req, body, res, leader.url, o.ca)) return;
      if (Date.now() >= deadline) {
        return sendError(res, 503, new GoatError('GOAT_ERR_NOT_READY', `the leader at ${leader.url} refused the connection; retry`, { temporary: true }), { 'retry-after': '1' });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    if (!bearerMatches(o.token, req.headers.authorization)) return refuse(socket, 401, 'GOAT_ERR_UNAUTHORIZED', 'missing or wrong cluster token');
    if (path !== LINK_PATH) return refuse(socket, 503, 'GOAT_ERR_NOT_READY', 'this manager is a follower; connect to the leader');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const leader = o.leader();
      if (leader) sendFrame(ws, 'redirect', { url: leader.url, leaderId: leader.id, epoch: leader.epoch });
      else sendFrame(ws, 'no_leader', { retryAfterMs: o.retryAfterMs ?? 500 });
      closeSocket(ws, LINK_CLOSE.NORMAL.code, leader ? 'redirect' : 'no leader');
    });
  });
  server.on('close', () => wss.close());
  return server;
}

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message, details: {} } });
  socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Service Unavailable'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
