/** The HTTP layer over a small in-memory ManagerApi; the manager tests run the same routes over the real manager. */
import test from 'ava';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiHandler, type ManagerApi } from '../../transport/http-api.js';
import { GoatError } from '../../lib/errors.js';
import { normalizeServiceSpec, type ServiceRecord } from '../../lib/model/index.js';

function memoryApi(): ManagerApi & { services: Map<string, ServiceRecord>; readyNow: boolean } {
  const services = new Map<string, ServiceRecord>();
  const idem = new Map<string, { bodyHash: string; status: number; response: unknown }>();
  const api = {
    services, readyNow: true,
    ready: () => api.readyNow,
    listServices: () => [...services.values()],
    getService: (n: string) => services.get(n),
    putService: async (body: unknown, name?: string) => {
      const spec = normalizeServiceSpec(name && body && typeof body === 'object' ? { name, ...body } : body);
      const before = services.get(spec.name);
      const record: ServiceRecord = { name: spec.name, spec, version: (before?.version ?? 0) + 1, createdAt: 1, updatedAt: 2, ...(before ? { previousSpec: before.spec } : {}) };
      services.set(spec.name, record);
      return { record, created: !before };
    },
    scaleService: async (n: string, replicas: number) => {
      const s = services.get(n)!;
      const r = { ...s, spec: { ...s.spec, replicas } };
      services.set(n, r);
      return r;
    },
    deleteService: async (n: string) => services.delete(n),
    rollbackService: async (n: string) => {
      const s = services.get(n);
      if (!s) throw new GoatError('GOAT_ERR_NOT_FOUND', `no service '${n}'`);
      if (!s.previousSpec) throw new GoatError('GOAT_ERR_NO_PREVIOUS_SPEC', `service '${n}' has no previous spec to roll back to`, { details: { service: n } });
      const r = { ...s, spec: s.previousSpec, previousSpec: null, version: s.version + 1 };
      services.set(n, r);
      return r;
    },
    listTasks: () => [], getTask: () => undefined, listNodes: () => [],
    drainNode: async () => { throw new Error('no'); },
    eventsSince: () => [], subscribeEvents: () => () => undefined,
    tree: () => ({ id: 'manager', path: '/cluster/manager', kind: 'supervisor' as const, status: 'running' as const, restarts: 0, nextRestartAt: null, lastError: null }),
    metrics: async () => ({ contentType: 'text/plain', body: 'goat_up 1\n' }),
    idempotent: (k: string) => idem.get(k),
    remember: (k: string, r: { bodyHash: string; status: number; response: unknown }) => void idem.set(k, r),
  };
  return api;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test responses are read field by field
type Json = any;

async function serve(t: { teardown(f: () => void): void }, maxBodyBytes?: number) {
  const api = memoryApi();
  const server = createServer(createApiHandler(api, { token: 'secret-token', ...(maxBodyBytes ? { maxBodyBytes } : {}) }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const call = (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: Json; text: string }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, headers: { authorization: 'Bearer secret-token', 'content-type': 'application/json', ...headers } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, json: text ? JSON.parse(text) : undefined }));
      });
      req.on('error', reject);
      req.end(body);
    });
  return { api, call };
}

const echo = JSON.stringify({ name: 'echo', replicas: 2, task: { command: ['node', 'x.js'] } });

test('health needs no token; /v1 needs the right one', async (t) => {
  const { call } = await serve(t);
  t.is((await call('GET', '/healthz', undefined, { authorization: '' })).status, 200);
  const none = await call('GET', '/v1/services', undefined, { authorization: '' });
  t.is(none.status, 401);
  t.is(none.json.error.code, 'GOAT_ERR_UNAUTHORIZED');
  t.is((await call('GET', '/v1/services', undefined, { authorization: 'Bearer wrong' })).status, 401);
  t.is((await call('GET', '/v1/services')).status, 200);
});

test('readyz and /v1 answer 503 until the store is loaded', async (t) => {
  const { api, call } = await serve(t);
  api.readyNow = false;
  t.is((await call('GET', '/readyz')).status, 503);
  t.is((await call('GET', '/v1/services')).json.error.code, 'GOAT_ERR_NOT_READY');
  api.readyNow = true;
  t.is((await call('GET', '/readyz')).status, 200);
});

test('invalid bodies get 400 naming the field; bad JSON 400; oversized 413', async (t) => {
  const { call, api } = await serve(t, 200);
  const bad = await call('PUT', '/v1/services/echo', JSON.stringify({ replicas: 1, task: { ports: [{ container: 0 }], command: ['x'] } }));
  t.is(bad.status, 400);
  t.is(bad.json.error.details.field, 'task.ports.0.container');
  t.is((await call('POST', '/v1/services', '{nope')).json.error.code, 'GOAT_ERR_BAD_REQUEST');
  const big = await call('POST', '/v1/services', JSON.stringify({ name: 'x', task: { command: ['y'], env: { A: 'z'.repeat(500) } } }));
  t.is(big.status, 413);
  t.is(big.json.error.code, 'GOAT_ERR_TOO_LARGE');
  t.is(api.services.size, 0, 'nothing changed');
});

test('PUT creates (201) then updates (200); PATCH scales; DELETE removes; unknown → 404', async (t) => {
  const { call } = await serve(t);
  t.is((await call('PUT', '/v1/services/echo', echo)).status, 201);
  t.is((await call('PUT', '/v1/services/echo', echo)).status, 200);
  t.is((await call('PATCH', '/v1/services/echo', JSON.stringify({ replicas: 5 }))).json.replicas, 5);
  t.is((await call('PATCH', '/v1/services/echo', JSON.stringify({ replicas: -1 }))).json.error.details.field, 'replicas');
  t.is((await call('DELETE', '/v1/services/echo')).status, 204);
  t.is((await call('GET', '/v1/services/echo')).status, 404);
  t.is((await call('GET', '/v1/nope')).status, 404);
  t.is((await call('DELETE', '/v1/services')).status, 405);
});

test('invalid update/reschedule → 400 naming the field; PATCH merges task fields; rollback → 409 without a previous spec, else the previous spec', async (t) => {
  const { call, api } = await serve(t);
  const badUpdate = await call('PUT', '/v1/services/echo', JSON.stringify({ task: { command: ['x'] }, update: { order: 'sideways' } }));
  t.is(badUpdate.status, 400);
  t.is(badUpdate.json.error.details.field, 'update.order');
  const badReschedule = await call('PUT', '/v1/services/echo', JSON.stringify({ task: { command: ['x'] }, reschedule: { maxAttempts: -1 } }));
  t.is(badReschedule.json.error.details.field, 'reschedule.maxAttempts');
  t.is(api.services.size, 0, 'nothing changed');
  await call('PUT', '/v1/services/echo', echo);
  const none = await call('POST', '/v1/services/echo/rollback');
  t.is(none.status, 409);
  t.is(none.json.error.code, 'GOAT_ERR_NO_PREVIOUS_SPEC');
  const patched = await call('PATCH', '/v1/services/echo', JSON.stringify({ task: { env: { V: '2' } }, update: { parallelism: 2 } }));
  t.is(patched.status, 200);
  t.deepEqual(patched.json.spec.task.env, { V: '2' });
  t.is(patched.json.spec.task.image ?? patched.json.spec.task.command?.[0], api.services.get('echo')!.previousSpec!.task.image ?? api.services.get('echo')!.previousSpec!.task.command?.[0], 'other task fields kept');
  t.is(patched.json.spec.update.parallelism, 2);
  const back = await call('POST', '/v1/services/echo/rollback');
  t.is(back.status, 200);
  t.deepEqual(back.json.spec.task.env, {});
  t.is(back.json.hasPreviousSpec, false);
});

test('POST with an Idempotency-Key: same body → the original result; another body → 409', async (t) => {
  const { call, api } = await serve(t);
  const first = await call('POST', '/v1/services', echo, { 'idempotency-key': 'k1' });
  t.is(first.status, 201);
  const again = await call('POST', '/v1/services', echo, { 'idempotency-key': 'k1' });
  t.is(again.status, 201);
  t.deepEqual(again.json, first.json);
  t.is(api.services.get('echo')?.version, 1, 'applied once');
  const other = await call('POST', '/v1/services', echo.replace('"replicas":2', '"replicas":3'), { 'idempotency-key': 'k1' });
  t.is(other.status, 409);
  t.is(other.json.error.code, 'GOAT_ERR_CONFLICT');
});
