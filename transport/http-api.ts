/**
 * The manager's HTTP API (DESIGN.md "HTTP API"): routes, the bearer token on
 * `/v1/*`, JSON bodies with a size limit, errors as
 * `{"error":{"code","message","details"}}`, events as JSON or SSE. What the
 * routes do is the {@link ManagerApi}'s business; this file only speaks HTTP.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GoatError, isGoatError, type GoatErrorCode } from '../lib/errors.js';
import type { ClusterEvent, NodeRecord, ServiceRecord, TaskRecord } from '../lib/model/index.js';
import type { TreeNode } from '../lib/supervision/index.js';

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
  listTasks(filter: { service?: string; state?: string; node?: string }): TaskRecord[];
  getTask(id: string): TaskRecord | undefined;
  listNodes(): NodeRecord[];
  drainNode(id: string): Promise<NodeRecord>;
  eventsSince(seq: number, limit: number): ClusterEvent[];
  subscribeEvents(listener: (e: ClusterEvent) => void): () => void;
  tree(): TreeNode;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The stored result of an Idempotency-Key, if any (expired ones are gone). */
  idempotent(key: string): { bodyHash: string; status: number; response: unknown } | undefined;
  remember(key: string, rec: { bodyHash: string; status: number; response: unknown }): void;
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
}

const STATUS: Partial<Record<GoatErrorCode, number>> = {
  GOAT_ERR_INVALID_SPEC: 400,
  GOAT_ERR_BAD_REQUEST: 400,
  GOAT_ERR_UNAUTHORIZED: 401,
  GOAT_ERR_NOT_FOUND: 404,
  GOAT_ERR_NO_SUCH_TASK: 404,
  GOAT_ERR_CONFLICT: 409,
  GOAT_ERR_TOO_LARGE: 413,
  GOAT_ERR_NOT_READY: 503,
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
  const tokenHash = sha256(options.token);
  const routes: [string, RegExp, Handler][] = [
    ['GET', /^\/healthz$/, ({ res }) => send(res, 200, { ok: true })],
    ['GET', /^\/readyz$/, ({ res }) => (api.ready() ? send(res, 200, { ready: true }) : fail(res, new GoatError('GOAT_ERR_NOT_READY', 'the store is not loaded yet')))],
    ['GET', /^\/metrics$/, async ({ res }) => {
      const m = await api.metrics();
      res.writeHead(200, { 'content-type': m.contentType }).end(m.body);
    }],
    ['GET', /^\/v1\/services$/, ({ res }) => send(res, 200, api.listServices().map(serviceJson))],
    ['GET', /^\/v1\/managers$/, async ({ res }) => send(res, 200, api.managers ? await api.managers() : [])],
    ['POST', /^\/v1\/services$/, async (c) => createService(api, c)],
    ['GET', /^\/v1\/services\/([^/]+)$/, ({ res, params }) => send(res, 200, serviceJson(mustFind(api.getService(params[0]!), 'service', params[0]!)))],
    ['PUT', /^\/v1\/services\/([^/]+)$/, async ({ res, params, body }) => {
      const { record, created } = await api.putService((await body()).json, params[0]!);
      send(res, created ? 201 : 200, serviceJson(record));
    }],
    ['PATCH', /^\/v1\/services\/([^/]+)$/, async ({ res, params, body }) => {
      const { json } = await body();
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
    ['GET', /^\/v1\/tasks$/, ({ res, query }) => send(res, 200, api.listTasks(filterOf(query)).map(taskJson))],
    ['GET', /^\/v1\/tasks\/([^/]+)$/, ({ res, params }) => send(res, 200, taskJson(mustFind(api.getTask(params[0]!), 'task', params[0]!)))],
    ['GET', /^\/v1\/nodes$/, ({ res }) => send(res, 200, api.listNodes())],
    ['POST', /^\/v1\/nodes\/([^/]+)\/drain$/, async ({ res, params }) => send(res, 200, await api.drainNode(params[0]!))],
    ['GET', /^\/v1\/events$/, (c) => events(api, c)],
    ['GET', /^\/v1\/tree$/, ({ res }) => send(res, 200, api.tree())],
  ];

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://manager');
    const path = url.pathname;
    void (async () => {
      try {
        if (path.startsWith('/v1/') && !authorized(req, tokenHash)) {
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
        const params = (route[1].exec(path) ?? []).slice(1).map((p) => decodeURIComponent(p));
        await route[2]({ req, res, params, query: url.searchParams, body: () => readBody(req, maxBody) });
      } catch (err) {
        if (!res.headersSent) fail(res, err);
        else res.destroy();
      }
    })();
  };
}

async function createService(api: ManagerApi, { req, res, body }: RequestContext): Promise<void> {
  const { raw, json } = await body();
  const key = header(req, 'idempotency-key');
  if (key) {
    const seen = api.idempotent(key);
    const hash = sha256(raw).toString('hex');
    if (seen) {
      if (seen.bodyHash !== hash) throw new GoatError('GOAT_ERR_CONFLICT', `Idempotency-Key '${key}' was used with another body`, { details: { idempotencyKey: key } });
      return send(res, seen.status, seen.response);
    }
    const { record, created } = await api.putService(json);
    const status = created ? 201 : 200;
    const response = serviceJson(record);
    api.remember(key, { bodyHash: hash, status, response });
    return send(res, status, response);
  }
  const { record, created } = await api.putService(json);
  send(res, created ? 201 : 200, serviceJson(record));
}

function events(api: ManagerApi, { req, res, query }: RequestContext): void {
  const since = Number(query.get('since') ?? '0');
  if (!Number.isInteger(since) || since < 0) throw new GoatError('GOAT_ERR_INVALID_SPEC', 'invalid query: since: a whole number >= 0', { details: { field: 'since' } });
  const limit = Math.min(10_000, Number(query.get('limit') ?? '1000') || 1000);
  if (!(req.headers.accept ?? '').includes('text/event-stream')) return send(res, 200, api.eventsSince(since, limit));
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  let last = since;
  const write = (e: ClusterEvent): void => {
    if (e.seq <= last) return;
    last = e.seq;
    res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  };
  const off = api.subscribeEvents(write);
  for (const e of api.eventsSince(since, limit)) write(e);
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  req.on('close', () => {
    clearInterval(keepAlive);
    off();
  });
}

/** Task JSON (DESIGN.md): the record without its spec, plus `pendingReason` when it waits for a node. */
export function taskJson(t: TaskRecord): Record<string, unknown> {
  const { spec: _spec, ...rest } = t;
  return rest;
}

/** Service JSON: its spec, version and times. */
export function serviceJson(s: ServiceRecord): Record<string, unknown> {
  return { name: s.name, replicas: s.spec.replicas, version: s.version, spec: s.spec, createdAt: s.createdAt, updatedAt: s.updatedAt };
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

function authorized(req: IncomingMessage, tokenHash: Buffer): boolean {
  const auth = header(req, 'authorization');
  const m = auth ? /^Bearer (.+)$/.exec(auth) : null;
  return m !== null && timingSafeEqual(sha256(m[1]!), tokenHash);
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
