/**
 * The follower's server (transport/follower-server.ts) with a fake leader on
 * loopback: a request that arrives while nobody leads waits, and is forwarded
 * once a leader appears within the wait; none in time → 503
 * GOAT_ERR_NOT_READY with Retry-After; a worker link gets `no_leader` with a
 * retry delay while nobody leads, `redirect` naming the leader otherwise; a
 * worker's link client told so comes back after the delay and follows the
 * redirect to the leader.
 */
import test from 'ava';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import type { LeaderInfo } from '../../lib/ha/election.js';
import { GoatError } from '../../lib/errors.js';
import { decodeFrame, type Frame } from '../../transport/frames.js';
import { createFollowerServer, type FollowerServerOptions } from '../../transport/follower-server.js';
import { LinkClient, type LinkClientEvents } from '../../transport/link-client.js';
import { helloBody, startHarness } from '../transport/helpers.js';

const TOKEN = 'follower-token-0123456789';

async function listen(t: { teardown: (fn: () => Promise<void>) => void }, server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function follower(t: { teardown: (fn: () => Promise<void>) => void }, options: Omit<FollowerServerOptions, 'token'>): Promise<string> {
  return listen(t, createFollowerServer({ token: TOKEN, ...options }));
}

/** A fake leader answering every request with what it got. */
async function fakeLeader(t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ url: string; seen: { method: string; url: string; body: string; auth: string }[] }> {
  const seen: { method: string; url: string; body: string; auth: string }[] = [];
  const url = await listen(t, createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString(), auth: req.headers.authorization ?? '' });
      res.writeHead(201, { 'content-type': 'application/json', 'x-from': 'leader' }).end(JSON.stringify({ ok: true }));
    });
  }));
  return { url, seen };
}

const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

test('a write that arrives while nobody leads waits, and is forwarded once a leader appears within the wait', async (t) => {
  const leaderServer = await fakeLeader(t);
  let leader: LeaderInfo | null = null;
  const base = await follower(t, { leader: () => leader, forwardWaitMs: 5_000 });
  const started = Date.now();
  const pending = fetch(`${base}/v1/services`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'web' }) });
  setTimeout(() => (leader = { id: 'm2', url: leaderServer.url, epoch: 42 }), 600); // elected meanwhile
  const res = await pending;
  t.is(res.status, 201, await res.clone().text());
  t.deepEqual(await res.json(), { ok: true });
  t.is(res.headers.get('x-from'), 'leader');
  t.is(res.headers.get('x-goat-forwarded-to'), leaderServer.url);
  t.true(Date.now() - started >= 550, 'it waited for the election');
  t.deepEqual(leaderServer.seen, [{ method: 'POST', url: '/v1/services', body: JSON.stringify({ name: 'web' }), auth: `Bearer ${TOKEN}` }]);
});

test('no leader within the wait: 503 GOAT_ERR_NOT_READY with Retry-After, and nothing forwarded', async (t) => {
  const base = await follower(t, { leader: () => null, forwardWaitMs: 300 });
  const res = await fetch(`${base}/v1/services/web`, { method: 'PATCH', headers: auth, body: JSON.stringify({ replicas: 3 }) });
  t.is(res.status, 503);
  t.is(res.headers.get('retry-after'), '1');
  const body = (await res.json()) as { error: { code: string; message: string } };
  t.is(body.error.code, 'GOAT_ERR_NOT_READY');
  t.regex(body.error.message, /no leader was elected within 300 ms/);
});

/** Opens a worker link on the follower; resolves with the frames it got and how it was closed. */
function link(base: string, token = TOKEN): Promise<{ frames: Frame[]; code: number; reason: string; status?: number }> {
  return new Promise((resolve) => {
    const frames: Frame[] = [];
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/link`, { headers: { Authorization: `Bearer ${token}` } });
    ws.on('message', (data) => {
      const f = decodeFrame(data.toString(), 'toWorker');
      if (!(f instanceof GoatError)) frames.push(f);
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ frames, code: 0, reason: '', status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on('error', () => {});
    ws.on('close', (code, reason) => resolve({ frames, code, reason: reason.toString() }));
  });
}

test('a worker link while nobody leads gets no_leader with the retry delay and is closed; with a leader, a redirect naming it', async (t) => {
  let leader: LeaderInfo | null = null;
  const base = await follower(t, { leader: () => leader, retryAfterMs: 750 });
  const none = await link(base);
  t.deepEqual(none.frames.map((f) => [f.type, f.body]), [['no_leader', { retryAfterMs: 750 }]]);
  t.is(none.code, 1000);
  t.is(none.reason, 'no leader');
  leader = { id: 'm2', url: 'http://127.0.0.1:7999', epoch: 42 };
  const redirected = await link(base);
  t.deepEqual(redirected.frames.map((f) => [f.type, f.body]), [['redirect', { url: 'http://127.0.0.1:7999', leaderId: 'm2', epoch: 42 }]]);
  t.is(redirected.reason, 'redirect');
  const refused = await link(base, 'wrong-token-0123456789');
  t.is(refused.status, 401);
  t.deepEqual(refused.frames, []);
});

test('a worker\'s link client told no_leader comes back after the delay, then follows the redirect to the leader', async (t) => {
  const h = await startHarness({ token: TOKEN });
  t.teardown(() => h.close());
  let leader: LeaderInfo | null = null;
  const base = await follower(t, { leader: () => leader, retryAfterMs: 300 });
  const c = new LinkClient({
    urls: [base], token: TOKEN, hello: () => helloBody('node-f'),
    onAssign: async () => ({ applied: true }), onStop: async () => ({ applied: true }),
    backoff: { initialMs: 5_000, maxMs: 5_000 }, // a plain retry would take 5 s: the no_leader delay is what brings it back
  });
  t.teardown(() => c.stop());
  const redirects: LinkClientEvents['redirected'][] = [];
  const lost: LinkClientEvents['disconnected'][] = [];
  c.on('redirected', (r) => {
    redirects.push(r);
    if (r.url === null) leader = { id: 'm2', url: h.base.replace(/^ws/, 'http'), epoch: 1 }; // elected while it waits
  });
  c.on('disconnected', (d) => lost.push(d));
  const linked = h.nextLink();
  const connected = new Promise<LinkClientEvents['connected']>((resolve) => c.on('connected', resolve));
  c.start();
  const { url } = await connected;
  await linked;
  t.is(url, `${h.base}/v1/link`, 'linked to the leader');
  t.deepEqual(redirects.map((r) => [r.url, r.retryAfterMs]), [[null, 300], [h.base.replace(/^ws/, 'http'), 0]]);
  t.deepEqual(lost.map((d) => d.retryInMs), [300, 0], 'back after the told delay, then at once to the leader');
});
