import test from 'ava';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { GoatError } from '../../lib/errors.js';
import { systemClock, type Clock } from '../../lib/supervision/index.js';
import { LINK_CLOSE } from '../../transport/close-codes.js';
import { decodeFrame, encodeFrame, type AssignBody, type FrameBodyInput, type StopBody } from '../../transport/frames.js';
import { LinkClient, linkUrl, type LinkClientEvents, type LinkClientOptions } from '../../transport/link-client.js';
import { delay, helloBody, startHarness, TOKEN, type Harness } from './helpers.js';
import { eventually } from '../runtime/helpers/wait.js';

type Hello = FrameBodyInput<'hello'>;

/** A client for `h` with quick settings; stopped at teardown. */
function client(t: { teardown: (fn: () => Promise<void>) => void }, urls: string[], overrides: Partial<LinkClientOptions> = {}): LinkClient {
  const c = new LinkClient({
    urls,
    token: TOKEN,
    hello: () => helloBody('node-c'),
    onAssign: async () => ({ applied: true }),
    onStop: async () => ({ applied: true }),
    backoff: { initialMs: 40, maxMs: 100 },
    ...overrides,
  });
  t.teardown(() => c.stop());
  return c;
}

function once<K extends keyof LinkClientEvents>(c: LinkClient, event: K): Promise<LinkClientEvents[K]> {
  return new Promise((resolve) => {
    const off = c.on(event, (arg) => {
      off();
      resolve(arg);
    });
  });
}

/** A port nothing listens on. */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `ws://127.0.0.1:${port}`;
}

/** The system clock, recording every timer delay it is asked for. */
function recordingClock(): Clock & { delays: number[] } {
  const delays: number[] = [];
  return { delays, now: systemClock.now, clearTimeout: systemClock.clearTimeout, setTimeout: (fn, ms) => (delays.push(ms), systemClock.setTimeout(fn, ms)) };
}

async function withHarness(t: { teardown: (fn: () => Promise<void>) => void }, options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  const h = await startHarness(options);
  t.teardown(() => h.close());
  return h;
}

test('linkUrl adds the link path and maps http to ws', (t) => {
  t.is(linkUrl('ws://10.0.0.1:7070'), 'ws://10.0.0.1:7070/v1/link');
  t.is(linkUrl('http://m:7070/'), 'ws://m:7070/v1/link');
  t.is(linkUrl('https://m/custom'), 'wss://m/custom');
  t.throws(() => new LinkClient({ urls: ['not a url'], token: 't', hello: () => helloBody(), onAssign: async () => ({ applied: true }), onStop: async () => ({ applied: true }) }), { message: /urls: not a URL/ });
});

test('connects with the token, says hello, is welcomed and heartbeats at the manager\'s interval', async (t) => {
  // 100 ms beats: the link closes after 3 silent intervals, which a loaded CI machine must not reach by accident.
  const h = await withHarness(t, { heartbeatMs: 100, epoch: () => 3 });
  const linkP = h.nextLink();
  const c = client(t, [h.base], { usage: () => ({ tasks: 2, memoryMb: 10, cpuSeconds: 1 }) });
  t.is(c.status, 'disconnected');
  t.is(c.disconnectedSince, null);
  const connected = once(c, 'connected');
  c.start();
  t.is(c.status, 'connecting');
  t.not(c.disconnectedSince, null, 'never connected yet counts as disconnected');
  const { welcome, url } = await connected;
  t.deepEqual(welcome, { nodeId: 'node-c', heartbeatMs: 100, epoch: 3, suspectAfterMs: 200, downAfterMs: 4_000, linkSilenceMs: 300 }, 'the one detector configuration, sent in welcome');
  t.is(url, `${h.base}/v1/link`);
  t.is(c.status, 'connected');
  t.is(c.disconnectedSince, null);
  const link = await linkP;
  const beats: number[] = [];
  const usages = new Set<string>();
  const off = link.on('heartbeat', (b) => {
    beats.push(b.seq);
    usages.add(JSON.stringify(b.usage));
  });
  await eventually('4 heartbeats', () => beats.length >= 4, 10_000, 10);
  off();
  t.deepEqual([...usages], [JSON.stringify({ tasks: 2, memoryMb: 10, cpuSeconds: 1 })]);
  t.true(beats.length >= 4, `beats: ${beats.join(',')}`);
  t.deepEqual(beats, beats.map((_, i) => beats[0]! + i), 'sequence numbers count up');
  t.true(link.open, 'the manager keeps a heartbeating link');
});

test('commands run through the handlers and are acked with what they return', async (t) => {
  const h = await withHarness(t, { retryMs: 20 });
  const linkP = h.nextLink();
  const assigned: AssignBody[] = [];
  const stopped: StopBody[] = [];
  let running = 0;
  let maxRunning = 0;
  const c = client(t, [h.base], {
    onAssign: async (body) => {
      maxRunning = Math.max(maxRunning, ++running);
      assigned.push(body);
      await delay(100); // slower than retryMs: the re-sends join this call
      running--;
      return { applied: true };
    },
    onStop: async (body) => {
      stopped.push(body);
      return { applied: false };
    },
  });
  c.start();
  const link = await linkP;
  const spec = { image: 'busybox', ports: [{ container: 80 }] };
  t.deepEqual(await link.command('assign', { cmdId: 'a-1', task: { taskId: 'web.0.x', service: 'web', slot: 0, generation: 1, spec } }), { applied: true });
  t.is(maxRunning, 1, 're-sends arriving while the handler runs join that call');
  t.true(assigned.length <= 2, `handler calls: ${assigned.length} (a re-send already on the wire when the ack left may run it again; the Worker dedups)`);
  t.is(assigned[0]?.task.spec.image, 'busybox');
  t.is(assigned[0]?.task.spec.restart.policy, 'always', 'the handler gets a normalized spec');
  t.deepEqual(await link.command('stop', { taskId: 'web.0.x', generation: 1 }), { applied: false });
  // As for the assign: a re-send already on the wire when the ack left may run the handler again (the Worker dedups).
  t.true(stopped.length >= 1 && stopped.length <= 2, `stop handler calls: ${stopped.length}`);
  t.true(stopped.every((s) => s.taskId === 'web.0.x' && s.generation === 1));
});

test('a handler error is answered with an error frame and no ack', async (t) => {
  const h = await withHarness(t, { retryMs: 5_000 });
  const linkP = h.nextLink();
  const c = client(t, [h.base], {
    onStop: async () => {
      throw new GoatError('GOAT_ERR_RUNTIME_UNAVAILABLE', 'docker is away');
    },
  });
  c.start();
  const link = await linkP;
  const remote = new Promise((resolve) => link.on('remoteError', resolve));
  void link.command('stop', { cmdId: 's-1', taskId: 't', generation: 1 }).catch(() => {});
  t.like(await remote, { code: 'GOAT_ERR_RUNTIME_UNAVAILABLE', message: 'docker is away', cmdId: 's-1' });
  t.is(link.pendingCommands, 1);
});

test('after the manager closes the link the client reconnects with backoff and says hello with its full state again', async (t) => {
  const h = await withHarness(t);
  const clock = recordingClock();
  let generation = 1;
  const hellos: Hello[] = [];
  const c = client(t, [h.base], {
    clock,
    random: () => 0.5,
    hello: () => {
      const hello = helloBody('node-c', [{ taskId: 'web.0.x', service: 'web', slot: 0, generation, state: 'running', restarts: 0 }]);
      hellos.push(hello);
      return hello;
    },
  });
  const firstLink = h.nextLink();
  c.start();
  (await firstLink).close(LINK_CLOSE.REPLACED.code, 'test');
  generation = 2; // the state changed while disconnected
  const lost = await once(c, 'disconnected');
  t.like(lost, { code: LINK_CLOSE.REPLACED.code, reason: 'test', wasConnected: true, retryInMs: 20 });
  t.is(c.status, 'disconnected');
  t.not(c.disconnectedSince, null);
  t.true(clock.delays.includes(20), 'the reconnect timer waits the drawn delay');
  const secondLink = h.nextLink();
  await once(c, 'connected');
  const second = await secondLink;
  t.is(second.hello.tasks[0]?.generation, 2, 'the new hello carries the current state');
  t.is(hellos.length, 2);
  t.is(c.status, 'connected');
});

test('failed attempts back off exponentially with full jitter, capped, rotating through the urls; a welcome resets it', async (t) => {
  const h = await withHarness(t);
  const dead = await deadUrl();
  const lost: LinkClientEvents['disconnected'][] = [];
  const c = client(t, [dead, dead, dead, h.base], { random: () => 0.999 });
  c.on('disconnected', (e) => lost.push(e));
  const linkP = h.nextLink();
  c.start();
  const link = await linkP;
  t.deepEqual(lost.map((e) => e.retryInMs), [39, 79, 99], 'random × min(100, 40 × 2^n)');
  t.true(lost.every((e) => !e.wasConnected && e.url === `${dead}/v1/link`));
  link.close(LINK_CLOSE.NORMAL.code, 'bye');
  const after = await once(c, 'disconnected');
  t.is(after.retryInMs, 39, 'the attempt count restarted after the welcome');
});

test('failed attempts with random draws stay within [0, cap]', async (t) => {
  const dead = await deadUrl();
  let seed = 99;
  const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const c = client(t, [dead], { random, backoff: { initialMs: 5, maxMs: 20 } });
  const delays: number[] = [];
  const enough = new Promise<void>((resolve) => c.on('disconnected', (e) => {
    delays.push(e.retryInMs ?? -1);
    if (delays.length === 8) resolve();
  }));
  c.start();
  await enough;
  delays.forEach((d, i) => t.true(d >= 0 && d <= Math.min(20, 5 * 2 ** i), `attempt ${i}: ${d}`));
});

test('a wrong token is a failed attempt like any other', async (t) => {
  const h = await withHarness(t, { authThrottle: { baseMs: 1 } });
  const c = client(t, [h.base], { token: 'nope' });
  const lost = once(c, 'disconnected');
  c.start();
  t.regex((await lost).reason, /401/);
  t.is(h.links.links.size, 0);
});

test('a manager that stops answering heartbeats is noticed and the client reconnects', async (t) => {
  // A fake manager: welcomes, then never answers.
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.teardown(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  let connections = 0;
  wss.on('connection', (ws) => {
    connections++;
    ws.on('message', (data) => {
      const frame = decodeFrame(data.toString(), 'toManager');
      if (!(frame instanceof GoatError) && frame.type === 'hello') ws.send(encodeFrame('welcome', { nodeId: frame.body.nodeId, heartbeatMs: 30, epoch: 0 }));
    });
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  const c = client(t, [`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`]);
  const welcomed = once(c, 'connected');
  c.start();
  await welcomed;
  const started = Date.now();
  const lost = await once(c, 'disconnected');
  t.true(lost.wasConnected);
  t.regex(lost.reason, /manager silent/);
  t.true(Date.now() - started >= 80, 'after about 3 intervals');
  await once(c, 'connected');
  t.is(connections, 2);
});

test('report sends task changes only while connected, numbered 1, 2 … on each link; stop closes and stays closed', async (t) => {
  const h = await withHarness(t);
  const c = client(t, [h.base]);
  const task = { taskId: 'web.0.x', service: 'web', slot: 0, generation: 1, state: 'running' as const, restarts: 0 };
  t.false(c.report([task]));
  const linkP = h.nextLink();
  const connected = once(c, 'connected');
  c.start();
  const link = await linkP;
  await connected;
  const reports = (l: typeof link, n: number): Promise<unknown[]> => new Promise((resolve) => {
    const got: unknown[] = [];
    l.on('report', (r) => got.push(r) === n && resolve(got));
  });
  const reported = reports(link, 2);
  t.true(c.report([task]));
  t.true(c.report([{ ...task, state: 'exited' }]));
  t.deepEqual(await reported, [{ tasks: [task], seq: 1 }, { tasks: [{ ...task, state: 'exited' }], seq: 2 }]);
  // A new link numbers its reports from 1 again (the manager keeps the order per link).
  const relinkP = h.nextLink();
  const reconnected = once(c, 'connected');
  link.close(LINK_CLOSE.RESYNC.code, LINK_CLOSE.RESYNC.meaning);
  const relink = await relinkP;
  await reconnected;
  const again = reports(relink, 1);
  t.true(c.report([task]));
  t.deepEqual(await again, [{ tasks: [task], seq: 1 }]);
  const lost = once(c, 'disconnected');
  await c.stop();
  t.like(await lost, { code: LINK_CLOSE.NORMAL.code, retryInMs: null });
  t.is(c.status, 'disconnected');
  await delay(150);
  t.is(h.links.links.size, 0, 'no reconnect after stop');
});

test('misbehaving callbacks cost their own output, never the link', async (t) => {
  // 100 ms beats, as above: a loaded machine must not close the link by 3 silent intervals.
  const h = await withHarness(t, { heartbeatMs: 100 });
  const linkP = h.nextLink();
  const c = client(t, [h.base], {
    usage: () => {
      throw new Error('no stats');
    },
    onAssign: async () => undefined as never,
  });
  c.start();
  const link = await linkP;
  const beat = new Promise<unknown>((resolve) => link.on('heartbeat', (b) => resolve(b.usage)));
  t.deepEqual(await beat, { tasks: 0, memoryMb: 0, cpuSeconds: 0 });
  t.deepEqual(await link.command('assign', { task: { taskId: 't', service: 's', slot: 0, generation: 1, spec: { command: ['x'] } } }), { applied: false });
  t.is(c.status, 'connected');
});

test('a hello that fails is a failed attempt, retried with backoff', async (t) => {
  const h = await withHarness(t);
  let calls = 0;
  const c = client(t, [h.base], {
    hello: () => {
      if (++calls === 1) throw new Error('state dir unreadable');
      return helloBody('node-c');
    },
  });
  const lost = once(c, 'disconnected');
  const connected = once(c, 'connected');
  c.start();
  t.regex((await lost).reason, /hello failed: state dir unreadable/);
  await connected;
  t.is(calls, 2);
});
