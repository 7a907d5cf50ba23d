/**
 * The manager's HTTP API (DESIGN.md "HTTP API"): routes, the bearer token on
 * `/v1/*`, JSON bodies with a size limit, errors as
 * `{"error":{"code","message","details"}}`, events as JSON or SSE. What the
 * routes do is the {@link ManagerApi}'s business; this file only speaks HTTP.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GoatError, isGoatError, type GoatErrorCode } from '../lib/errors.js';
import type { ClusterEvent, NodeRecord, ServiceRecord, TaskRecord } from '../lib/model/index.js';
import type { TreeNode } from '../lib/supervision/index.js';
import type { LogEvent, LogReadOptions } from '../lib/logs/index.js';
import type { LogTarget } from './logs-api.js';
import { logQuery, sendLogs } from './logs-http.js';
import { bearerMatches } from './auth.js';
import { parseSeq, sendEventList, streamEvents, type EventStreamOptions } from './event-stream.js';
import { checkIdempotencyKey, decodePathParam } from './request-guards.js';
import { DiskFullState, diskFullError, isDiskFull } from './disk-full.js';

/** What the HTTP API needs from the manager. */
export interface ManagerApi {
  /** True once the store is loaded (and, with several managers, this one leads). */
  ready(): boolean;
  listServices(): ServiceRecord[];
  getService(name: string): ServiceRecord | undefined;
  /** Creates or updates; `created` is true when it did not exist. */
  putService(body: unknown, name?: string): Promise<{ record: ServiceRecord; created: boolean }>;
  scaleService(name: string, replicas: number): Promise<ServiceRecord>;
  deleteService(name: string): Promise<boolean>;
  /** Rolls back to the previous spec; GOAT_ERR_NO_PREVIOUS_SPEC (409) when there is none. */
  rollbackService(name: string): Promise<ServiceRecord>;
  listTasks(filter: { service?: string; state?: string; node?: string }): TaskRecord[];
  getTask(id: string): TaskRecord | undefined;
  listNodes(): NodeRecord[];
  drainNode(id: string): Promise<NodeRecord>;
  /** Undoes a drain: the node takes tasks again. */
  activateNode?(id: string): Promise<NodeRecord>;
  /** Lets a node refused as of another cluster in, with its tasks as they run (`goat-cluster adopt`). */
  adoptNode?(id: string): Promise<NodeRecord>;
  eventsSince(seq: number, limit: number): ClusterEvent[];
  subscribeEvents(listener: (e: ClusterEvent) => void): () => void;
  tree(): TreeNode;
  /** A task's or a service's logs (throws GOAT_ERR_NOT_FOUND, GOAT_ERR_NODE_UNREACHABLE before any event). */
  openLogs?(target: LogTarget, options: LogReadOptions): AsyncIterableIterator<LogEvent>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The stored result of an Idempotency-Key, if any (expired ones are gone). */
  idempotent(key: string): { bodyHash: string; status: number; response: unknown } | undefined;
  remember(key: string, rec: { bodyHash: string; status: number; response: unknown }): void;
  /** The last event sequence number given out; a `since` past it is clamped to it. */
  lastEventSeq?(): number;
  /** Why the manager is not ready, shown by `/readyz`; undefined when nothing is wrong. */
  notReadyReason?(): { code: GoatErrorCode; message: string } | undefined;
  /** A tiny durable write, tried by `/readyz` while the disk was full, to see whether space returned; resolves once committed. */
  probeWrite?(): void | Promise<void>;
  /** The managers of the cluster (several on etcd; this one alone otherwise). */
  managers?(): Promise<ManagerInfo[]>;
}

/** One manager, as `GET /v1/managers` and `goat-cluster managers` show it. */
export interface ManagerInfo {
  id: string;
  url: string;
  leader: boolean;
  /** The leader's epoch (null for a follower; 0 for a single manager without etcd). */
  epoch: number | null;
  healthy: boolean;
}

/** Options of {@link createApiHandler}. */
export interface ApiOptions {
  token: string;
  /** Largest accepted body, in bytes. @default 1 MiB */
  maxBodyBytes?: number;
  /** Require the bearer token on `/metrics` too (it is open by default, like `/healthz`). @default false */
  metricsToken?: boolean;
  /** Limits of SSE event streams (buffer per subscriber, replay page size). */
  events?: EventStreamOptions;
  /**
   * True while this manager cannot confirm that what it reads is current
   * (HA: no quorum-backed check succeeded lately, or a follower without a
   * leader answering from etcd's local copy). Reads then say they may be
   * stale: the header `Goat-Stale: true` on every GET, and `stale: true` in
   * `/readyz` and `/healthz`. @default never
   */
  stale?: () => boolean;
}

/** The header that marks a read that may be stale (see {@link ApiOptions.stale}). */
export const STALE_HEADER = 'goat-stale';

const STATUS: Partial<Record<GoatErrorCode, number>> = {
  GOAT_ERR_INVALID_SPEC: 400,
  GOAT_ERR_BAD_REQUEST: 400,
  GOAT_ERR_UNAUTHORIZED: 401,
  GOAT_ERR_NOT_FOUND: 404,
  GOAT_ERR_NO_SUCH_TASK: 404,
  GOAT_ERR_CONFLICT: 409,
  GOAT_ERR_NO_PREVIOUS_SPEC: 409,
  GOAT_ERR_TOO_LARGE: 413,
  GOAT_ERR_NOT_READY: 503,
  GOAT_ERR_DISK_FULL: 507,
  GOAT_ERR_NODE_UNREACHABLE: 503,
};

type Handler = (ctx: RequestContext) => Promise<void> | void;
interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
  query: URLSearchParams;
  body(): Promise<{ raw: string; json: unknown }>;
}

/** Builds the request handler of the manager's HTTP server. */
export function createApiHandler(api: ManagerApi, options: ApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBody = options.maxBodyBytes ?? 1 << 20;
  const disk = new DiskFullState(api.probeWrite?.bind(api));
  const staleField = (): { stale?: true } => (options.stale?.() === true ? { stale: true } : {});
  const routes: [string, RegExp, Handler][] = [
    ['GET', /^\/healthz$/, ({ res }) => send(res, 200, { ok: true, ...staleField() })],
    ['GET', /^\/readyz$/, async ({ res }) => {
      const why = (await disk.check())?.toJSON() ?? api.notReadyReason?.();
      if (why) return send(res, 503, { ready: false, error: { details: {}, ...why }, ...staleField() });
      return api.ready() ? send(res, 200, { ready: true, ...staleField() }) : fail(res, new GoatError('GOAT_ERR_NOT_READY', 'the store is not loaded yet'));
    }],
    ['GET', /^\/metrics$/, async ({ res }) => {
      const m = await api.metrics();
      res.writeHead(200, { 'content-type': m.contentType }).end(m.body);
    }],
    ['GET', /^\/v1\/services$/, ({ res }) => send(res, 200, api.listServices().map(serviceJson))],
    ['GET', /^\/v1\/managers$/, async ({ res }) => send(res, 200, api.managers ? await api.managers() : [])],
    ['POST', /^\/v1\/services$/, async (c) => createService(api, c)],
    ['GET', /^\/v1\/services\/([^/]+)$/, ({ res, params }) => send(res, 200, serviceJson(mustFind(api.getService(params[0]!), 'service', params[0]!)))],
    ['PUT', /^\/v1\/services\/([^/]+)$/, async ({ req, res, params, body }) => {
      const { json } = await body();
      refuseExisting(api, req, params[0]!);
      const { record, created } = await api.putService(json, params[0]!);
      send(res, created ? 201 : 200, serviceJson(record));
    }],
    ['PATCH', /^\/v1\/services\/([^/]+)$/, async ({ res, params, body }) => {
      const { json } = await body();
      if (json && typeof json === 'object' && !Array.isArray(json) && Object.keys(json).some((k) => k !== 'replicas')) {
        // Any other field: merged into the current spec (the task's fields one by one), which starts a rollout when the task changed.
        const current = mustFind(api.getService(params[0]!), 'service', params[0]!);
        send(res, 200, serviceJson((await api.putService(mergeSpec(current.spec, json as Record<string, unknown>), params[0]!)).record));
        return;
      }
      const replicas = (json as { replicas?: unknown } | null)?.replicas;
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
        throw new GoatError('GOAT_ERR_INVALID_SPEC', 'invalid body: replicas: a whole number >= 0', { details: { field: 'replicas' } });
      }
      send(res, 200, serviceJson(await api.scaleService(params[0]!, replicas)));
    }],
    ['DELETE', /^\/v1\/services\/([^/]+)$/, async ({ res, params }) => {
      if (!(await api.deleteService(params[0]!))) throw notFound('service', params[0]!);
      res.writeHead(204).end();
    }],
    ['POST', /^\/v1\/services\/([^/]+)\/rollback$/, async ({ res, params }) => send(res, 200, serviceJson(await api.rollbackService(params[0]!)))],
    ['GET', /^\/v1\/tasks$/, ({ res, query }) => send(res, 200, api.listTasks(filterOf(query)).map(taskJson))],
    ['GET', /^\/v1\/tasks\/([^/]+)$/, ({ res, params, query }) => {
      const task = mustFind(api.getTask(params[0]!), 'task', params[0]!);
      send(res, 200, query.get('spec') === '1' ? task : taskJson(task)); // ?spec=1: with the spec it runs (inspect)
    }],
    ['GET', /^\/v1\/tasks\/([^/]+)\/logs$/, (c) => logs(api, c, { task: c.params[0]! })],
    ['GET', /^\/v1\/services\/([^/]+)\/logs$/, (c) => logs(api, c, { service: c.params[0]! })],
    ['GET', /^\/v1\/nodes$/, ({ res }) => send(res, 200, api.listNodes())],
    ['POST', /^\/v1\/nodes\/([^/]+)\/drain$/, async ({ res, params }) => send(res, 200, await api.drainNode(params[0]!))],
    ['POST', /^\/v1\/nodes\/([^/]+)\/adopt$/, async ({ res, params }) => {
      if (!api.adoptNode) throw new GoatError('GOAT_ERR_NOT_IMPLEMENTED', 'this manager cannot adopt nodes');
      send(res, 200, await api.adoptNode(params[0]!));
    }],
    ['POST', /^\/v1\/nodes\/([^/]+)\/activate$/, async ({ res, params }) => {
      if (!api.activateNode) throw new GoatError('GOAT_ERR_NOT_IMPLEMENTED', 'this manager cannot activate nodes');
      send(res, 200, await api.activateNode(params[0]!));
    }],
    ['GET', /^\/v1\/events$/, (c) => events(api, c, options.events)],
    ['GET', /^\/v1\/tree$/, ({ res }) => send(res, 200, api.tree())],
  ];

  return (req, res) => {
    void (async () => {
      try {
        const url = parseUrl(req.url);
        const path = url.pathname;
        if (req.method === 'GET' && options.stale?.() === true) res.setHeader(STALE_HEADER, 'true');
        const guarded = path.startsWith('/v1/') || (options.metricsToken === true && path === '/metrics');
        if (guarded && !bearerMatches(options.token, header(req, 'authorization'))) {
          throw new GoatError('GOAT_ERR_UNAUTHORIZED', 'missing or wrong bearer token');
        }
        const matching = routes.filter(([, re]) => re.test(path));
        if (matching.length === 0) throw notFound('route', path);
        const route = matching.find(([method]) => method === req.method);
        if (!route) {
          res.setHeader('allow', matching.map(([m]) => m).join(', '));
          return send(res, 405, { error: { code: 'GOAT_ERR_NOT_FOUND', message: `${req.method} is not allowed on ${path}`, details: {} } });
        }
        if (path.startsWith('/v1/') && !api.ready()) throw new GoatError('GOAT_ERR_NOT_READY', 'the store is not loaded yet', { temporary: true });
        const params = (route[1].exec(path) ?? []).slice(1).map((p) => decodePathParam(p));
        await route[2]({ req, res, params, query: url.searchParams, body: () => readBody(req, maxBody) });
        if (req.method !== 'GET') disk.succeeded();
      } catch (err) {
        const full = isDiskFull(err);
        if (full) disk.failed();
        if (!res.headersSent) fail(res, full ? diskFullError(err) : err);
        else res.destroy();
      }
    })();
  };
}

async function createService(api: ManagerApi, { req, res, body }: RequestContext): Promise<void> {
  const { raw, json } = await body();
  const key = checkIdempotencyKey(header(req, 'idempotency-key'));
  if (key) {
    const seen = api.idempotent(key);
    const hash = sha256(raw).toString('hex');
    if (seen) {
      // The key is not echoed: it may be a secret of the client's, and a 409 may end up in logs.
      if (seen.bodyHash !== hash) throw new GoatError('GOAT_ERR_CONFLICT', 'this Idempotency-Key was used with another body', { details: { field: 'Idempotency-Key' } });
      return send(res, seen.status, seen.response);
    }
    refuseExisting(api, req, nameOf(json));
    const { record, created } = await api.putService(json);
    const status = created ? 201 : 200;
    const response = serviceJson(record);
    api.remember(key, { bodyHash: hash, status, response });
    return send(res, status, response);
  }
  refuseExisting(api, req, nameOf(json));
  const { record, created } = await api.putService(json);
  send(res, created ? 201 : 200, serviceJson(record));
}

/**
 * `If-None-Match: *` (what `goat-cluster run` sends): create only. An
 * existing service is 409, with the hint to use `update` — so that `run` on
 * an existing name never silently replaces its whole spec.
 */
function refuseExisting(api: ManagerApi, req: IncomingMessage, name: string | undefined): void {
  if (header(req, 'if-none-match')?.trim() !== '*' || name === undefined || !api.getService(name)) return;
  throw new GoatError('GOAT_ERR_CONFLICT', `service '${name}' already exists; change it with \`goat-cluster update ${name} …\` (only the flags given change), or \`goat-cluster stop ${name}\` first`, { details: { service: name, hint: `goat-cluster update ${name}` } });
}

function nameOf(json: unknown): string | undefined {
  const name = (json as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

async function logs(api: ManagerApi, { req, res, query }: RequestContext, target: LogTarget): Promise<void> {
  if (!api.openLogs) throw new GoatError('GOAT_ERR_NOT_IMPLEMENTED', 'this manager serves no logs');
  const options = logQuery(query);
  const events = api.openLogs(target, options);
  await sendLogs(events, req, res, { prefix: 'service' in target, timestamps: options.timestamps });
}

function events(api: ManagerApi, { req, res, query }: RequestContext, options: EventStreamOptions | undefined): void {
  const end = api.lastEventSeq?.() ?? Number.MAX_SAFE_INTEGER;
  const limit = Math.max(1, Math.min(10_000, parseSeq(query.get('limit'), 'limit', 1000)));
  // Without `since`, a plain list is the newest `limit` events, as `docker events` users expect (a stream still starts at 0).
  const newest = query.get('since') === null && api.lastEventSeq && !(req.headers.accept ?? '').includes('text/event-stream');
  const since = newest ? Math.max(0, end - limit) : parseSeq(query.get('since'), 'since', 0, end);
  // The list in pages, bounded per client like the stream (a client that does not read holds a page, not the list).
  if (!(req.headers.accept ?? '').includes('text/event-stream')) return sendEventList(api, res, since, limit, end, options);
  streamEvents(api, req, res, since, options);
}

/** Task JSON (DESIGN.md): the record without its spec, plus `pendingReason` when it waits for a node. */
export function taskJson(t: TaskRecord): Record<string, unknown> {
  const { spec: _spec, ...rest } = t;
  return rest;
}

/** Service JSON: its spec, version, times, status (`running | degraded`, with `reason`) and rollout (`update`). */
export function serviceJson(s: ServiceRecord): Record<string, unknown> {
  return {
    name: s.name, replicas: s.spec.replicas, version: s.version, spec: s.spec, createdAt: s.createdAt, updatedAt: s.updatedAt,
    status: s.status ?? { state: 'running', since: s.updatedAt }, update: s.update ?? null, hasPreviousSpec: !!s.previousSpec,
  };
}

/** A PATCH body merged into a spec: top-level fields replaced, `task` and the settings blocks merged field by field. */
export function mergeSpec(spec: ServiceRecord['spec'], patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...spec };
  for (const [k, v] of Object.entries(patch)) {
    const old = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && old && typeof old === 'object' && !Array.isArray(old) ? { ...old, ...v } : v;
  }
  return out;
}

function filterOf(q: URLSearchParams): { service?: string; state?: string; node?: string } {
  const f: { service?: string; state?: string; node?: string } = {};
  for (const k of ['service', 'state', 'node'] as const) {
    const v = q.get(k);
    if (v) f[k] = v;
  }
  return f;
}

function mustFind<T>(value: T | undefined, what: string, id: string): T {
  if (value === undefined) throw notFound(what, id);
  return value;
}

function notFound(what: string, id: string): GoatError {
  return new GoatError('GOAT_ERR_NOT_FOUND', `no ${what} '${id}'`, { details: { [what]: id } });
}

/** The request's URL; a target that is not a URL path is a 400. */
function parseUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://manager');
  } catch {
    throw new GoatError('GOAT_ERR_BAD_REQUEST', 'the request target is not a valid URL path', { details: { field: 'path' } });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function readBody(req: IncomingMessage, max: number): Promise<{ raw: string; json: unknown }> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > max) return reject(tooLarge(max));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge(max));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      if (raw.trim() === '') return resolve({ raw, json: undefined });
      try {
        resolve({ raw, json: JSON.parse(raw) });
      } catch {
        reject(new GoatError('GOAT_ERR_BAD_REQUEST', 'the body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

function tooLarge(max: number): GoatError {
  return new GoatError('GOAT_ERR_TOO_LARGE', `the body is larger than ${max} bytes`, { details: { maxBytes: max } });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function fail(res: ServerResponse, err: unknown): void {
  if (isGoatError(err)) {
    res.setHeader('connection', err.code === 'GOAT_ERR_TOO_LARGE' ? 'close' : 'keep-alive');
    return send(res, STATUS[err.code] ?? 500, { error: err.toJSON() });
  }
  send(res, 500, { error: { code: 'GOAT_ERR_INTERNAL', message: err instanceof Error ? err.message : String(err), details: {} } });
}
