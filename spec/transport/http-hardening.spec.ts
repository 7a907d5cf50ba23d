/**
 * Issue 11, the HTTP API against a careless or hostile client (a real
 * manager, real sockets, a real SQLite file): the bearer scheme in any case,
 * malformed percent-encodings, Idempotency-Key limits, `since` checks,
 * `/metrics` behind the token by option, and slow SSE subscribers dropped
 * while a normal client is served. Each bad request gets a 400 that names
 * the field and changes nothing.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Manager, type ManagerOptions } from '../../actors/manager/manager.js';
import { openSqliteStore } from '../../lib/store/index.js';
import { eventually } from '../runtime/helpers/wait.js';

const TOKEN = 'hardening-http-token';
const quiet = { info: () => undefined, warn: () => undefined };

async function setup(t: { teardown(f: () => Promise<void> | void): void }, options: Partial<ManagerOptions> = {}, events = 0) {
  const dir = await mkdtemp(join(tmpdir(), 'goat-h11-http-'));
  if (events > 0) {
    // A real store file with a long event log, as a busy cluster has.
    const store = openSqliteStore(join(dir, 'goat.db'));
    const pad = 'x'.repeat(1000);
    for (let i = 0; i < events; i += 500) store.appendEvents(Array.from({ length: Math.min(500, events - i) }, (_, k) => ({ at: Date.now(), type: 'test.filler', subject: `e${i + k}`, data: { pad } })));
    store.close();
  }
  const manager = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: TOKEN, logger: quiet, ...options });
  t.teardown(async () => {
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${manager.url}${path}`, {
      method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text, json: (text ? JSON.parse(text) : undefined) as { error?: { code: string; message: string; details: Record<string, unknown> } } & Record<string, unknown> };
  };
  return { manager, api, dir };
}

const svc = (name: string) => ({ name, replicas: 0, task: { command: ['node', '-e', '0'] } });

test('the Bearer scheme is case-insensitive on HTTP and on the admin WebSocket', async (t) => {
  const { manager, api } = await setup(t);
  for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEaReR']) {
    t.is((await api('GET', '/v1/services', undefined, { authorization: `${scheme} ${TOKEN}` })).status, 200, scheme);
  }
  t.is((await api('GET', '/v1/services', undefined, { authorization: `bearer wrong` })).status, 401);
  const ws = new WebSocket(`${manager.url.replace('http', 'ws')}/v1/admin`, { headers: { authorization: `bearer ${TOKEN}` } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.close();
  t.pass();
});

test('a malformed percent-encoding in a path is a 400 that changes nothing', async (t) => {
  const { api, manager } = await setup(t);
  await api('PUT', '/v1/services/keep', svc('keep'));
  for (const path of ['/v1/services/%zz', '/v1/services/%E0%A4', '/v1/tasks/%', '/v1/services/a%ZZb']) {
    for (const method of path.startsWith('/v1/tasks') ? ['GET'] : ['GET', 'DELETE', 'PUT']) {
      const r = await api(method, path, method === 'PUT' ? svc('x') : undefined);
      t.is(r.status, 400, `${method} ${path}`);
      t.is(r.json.error?.code, 'GOAT_ERR_BAD_REQUEST');
      t.is(r.json.error?.details['field'], 'path');
    }
  }
  t.deepEqual(manager.listServices().map((s) => s.name), ['keep']);
  t.is((await api('GET', '/healthz')).status, 200);
});

test('Idempotency-Key: too long or non-printable is a 400; a 409 does not echo the key', async (t) => {
  const { api, manager } = await setup(t);
  const long = 'k'.repeat(256);
  const r = await api('POST', '/v1/services', svc('a'), { 'idempotency-key': long });
  t.is(r.status, 400);
  t.is(r.json.error?.details['field'], 'Idempotency-Key');
  t.deepEqual(manager.listServices(), []);
  t.is((await api('POST', '/v1/services', svc('a'), { 'idempotency-key': 'k'.repeat(255) })).status, 201);
  const secret = 'secret-key-12345';
  t.is((await api('POST', '/v1/services', svc('b'), { 'idempotency-key': secret })).status, 201);
  const conflict = await api('POST', '/v1/services', svc('c'), { 'idempotency-key': secret });
  t.is(conflict.status, 409);
  t.is(conflict.json.error?.code, 'GOAT_ERR_CONFLICT');
  t.false(conflict.text.includes(secret));
  t.deepEqual(manager.listServices().map((s) => s.name).sort(), ['a', 'b']);
});

test('since must be decimal; one past the end is clamped, so the stream starts with the next event', async (t) => {
  const { api, manager } = await setup(t);
  await api('PUT', '/v1/services/one', svc('one'));
  for (const since of ['abc', '1e3', '-1', '0x10', '1.5', ' 1', '99999999999999999999']) {
    const r = await api('GET', `/v1/events?since=${encodeURIComponent(since)}`);
    t.is(r.status, 400, since);
    t.is(r.json.error?.details['field'], 'since');
  }
  t.is((await api('GET', '/v1/events?limit=ten')).status, 400);
  const res = await fetch(`${manager.url}/v1/events?since=1000000000`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' } });
  const reader = res.body!.getReader();
  await api('PUT', '/v1/services/two', svc('two'));
  let text = '';
  await eventually('the next event on a stream whose since was past the end', async () => {
    text += new TextDecoder().decode((await reader.read()).value);
    return text.includes('"subject":"two"');
  });
  await reader.cancel();
  t.pass();
});

test('/metrics is open by default and needs the token when metricsToken is set', async (t) => {
  const open = await setup(t);
  t.is((await fetch(`${open.manager.url}/metrics`)).status, 200);
  const closed = await setup(t, { api: { metricsToken: true } });
  t.is((await fetch(`${closed.manager.url}/metrics`)).status, 401);
  t.is((await fetch(`${closed.manager.url}/metrics`, { headers: { authorization: `bearer ${TOKEN}` } })).status, 200);
});

/** A raw SSE subscriber (or, with `accept` JSON, a client of the plain list) that never reads its socket. */
function slowSubscriber(url: string, since = 0, accept = 'text/event-stream', query = ''): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => {
      s.write(`GET /v1/events?since=${since}${query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nAccept: ${accept}\r\n\r\n`);
      s.pause();
      resolve(s);
    });
    s.once('error', reject);
  });
}

test('slow SSE subscribers are dropped while a reading client gets the whole replay in order', async (t) => {
  const { manager } = await setup(t, { api: { events: { maxBufferedBytes: 64 * 1024, stallMs: 300, pageSize: 200 } } }, 5_000);
  const slow = await Promise.all(Array.from({ length: 20 }, () => slowSubscriber(manager.url)));
  t.teardown(() => slow.forEach((s) => s.destroy()));
  // A normal client reads all 5,000 (1 KB each) in order, without duplicates.
  const res = await fetch(`${manager.url}/v1/events?since=0`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' } });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const ids: number[] = [];
  while (ids.length < 5_000) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = text.indexOf('\n\n')) >= 0) {
      const m = /^id: (\d+)$/m.exec(text.slice(0, i));
      if (m) ids.push(Number(m[1]));
      text = text.slice(i + 2);
    }
  }
  await reader.cancel();
  t.deepEqual(ids, Array.from({ length: 5_000 }, (_, k) => k + 1));
  // The slow ones were dropped: reading now, each gets what the kernel held, then the end — not the whole log.
  await new Promise((r) => setTimeout(r, 1_500));
  const got = await Promise.race([
    Promise.all(slow.map((s) => new Promise<string>((resolve) => {
      let text = '';
      s.on('data', (d: Buffer) => void (text += d.toString('utf8')));
      s.on('error', () => undefined);
      s.once('close', () => resolve(text));
      s.resume();
    }))),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('slow subscribers still connected after 10 s')), 10_000)),
  ]);
  for (const text of got) t.false(text.includes('id: 5000\n'));
  t.is((await fetch(`${manager.url}/readyz`)).status, 200);
});

/** Reads what a paused socket still gets, until the manager closes it (or fails after 10 s). */
function drainToClose(sockets: Socket[]): Promise<string[]> {
  return Promise.race([
    Promise.all(sockets.map((s) => new Promise<string>((resolve) => {
      let text = '';
      s.on('data', (d: Buffer) => void (text += d.toString('utf8')));
      s.on('error', () => undefined);
      s.once('close', () => resolve(text));
      s.resume();
    }))),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('slow clients still connected after 10 s')), 10_000)),
  ]);
}

test('the plain JSON event list is written in pages: clients that never read are cut off, a reading client gets the whole list', async (t) => {
  const { manager, api } = await setup(t, { api: { events: { stallMs: 300, pageSize: 200 } } }, 5_000);
  const slow = await Promise.all(Array.from({ length: 20 }, () => slowSubscriber(manager.url, 0, 'application/json', '&limit=10000')));
  t.teardown(() => slow.forEach((s) => s.destroy()));
  // A normal client reads the same list whole: valid JSON, every event once, in order.
  const list = await api('GET', '/v1/events?since=0&limit=10000');
  t.is(list.status, 200);
  const events = JSON.parse(list.text) as { seq: number; type: string }[];
  t.deepEqual(events.map((e) => e.seq), Array.from({ length: 5_000 }, (_, k) => k + 1));
  t.is(events[0]?.type, 'test.filler');
  // The same shapes as before: limit, the newest without since, an empty tail.
  t.deepEqual((JSON.parse((await api('GET', '/v1/events?since=10&limit=3')).text) as { seq: number }[]).map((e) => e.seq), [11, 12, 13]);
  t.deepEqual((JSON.parse((await api('GET', '/v1/events?limit=2')).text) as { seq: number }[]).map((e) => e.seq), [4_999, 5_000]);
  t.is((await api('GET', '/v1/events?since=5000')).text, '[]');
  // Those that never read were cut off once their socket stopped draining: they got what the kernel held, never the whole list.
  for (const text of await drainToClose(slow)) {
    t.regex(text, /^HTTP\/1\.1 200/);
    t.false(text.includes('"seq":5000,'), 'not the end of the list');
  }
  t.is((await fetch(`${manager.url}/readyz`)).status, 200);
});

test('specs a worker could never start get a 400 naming the field, and nothing is stored', async (t) => {
  const { api, manager } = await setup(t);
  const nul = await api('PUT', '/v1/services/nul', { name: 'nul', replicas: 1, task: { command: ['node', '-e', '0'], env: { A: 'x\u0000y' } } });
  t.is(nul.status, 400);
  t.is(nul.json.error?.details['field'], 'task.env.A');
  const ports = await api('POST', '/v1/services', { name: 'ports', replicas: 1, task: { command: ['node', '-e', '0'], ports: [{ host: 9000, container: 1 }, { host: 9000, container: 2 }] } });
  t.is(ports.status, 400);
  t.is(ports.json.error?.details['field'], 'task.ports.1.host');
  t.deepEqual(manager.listServices(), []);
  t.deepEqual(manager.listTasks({}), []);
});
