import test from 'ava';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isGoatError } from '../../lib/errors.js';
import { systemClock, type Clock } from '../../lib/supervision/index.js';
import { LINK_CLOSE } from '../../transport/close-codes.js';
import type { LinkRejection } from '../../transport/link-server.js';
import type { ManagerLink } from '../../transport/manager-link.js';
import { delay, helloBody, RawPeer, startHarness, TOKEN } from './helpers.js';
import { eventually } from '../runtime/helpers/wait.js';

test('a worker with the token is welcomed and its link handed out', async (t) => {
  const h = await startHarness({ heartbeatMs: 1_000, epoch: () => 7 });
  t.teardown(() => h.close());
  const linkP = h.nextLink();
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.opened;
  peer.send('hello', helloBody('node-a', [{ taskId: 'web.0.x', service: 'web', slot: 0, generation: 3, state: 'running', restarts: 0 }]), { id: 'h1' });
  const welcome = await peer.next('welcome');
  t.deepEqual(welcome.body, { nodeId: 'node-a', heartbeatMs: 1_000, epoch: 7, suspectAfterMs: 2_000, downAfterMs: 4_000, linkSilenceMs: 3_000 }, 'the one detector configuration');
  t.is(welcome.re, 'h1');
  const link = await linkP;
  t.is(link.nodeId, 'node-a');
  t.is(link.hello.tasks[0]?.generation, 3);
  t.is(link.remoteAddress, '127.0.0.1');
  t.is(h.links.links.size, 1);
  peer.ws.close();
  await peer.closed;
  await eventually('the closed link forgotten', () => h.links.links.size === 0, 5_000, 5);
  t.is(h.links.links.size, 0, 'a closed link is forgotten');
});

test('a wrong or missing token is answered 401 before any upgrade; others keep being served', async (t) => {
  const h = await startHarness({ authThrottle: { baseMs: 1 } });
  t.teardown(() => h.close());
  const rejected: LinkRejection[] = [];
  h.links.on('rejected', (r) => rejected.push(r));
  let links = 0;
  h.links.onLink(() => links++);
  for (const token of ['wrong', null, '']) {
    const peer = new RawPeer(`${h.base}/v1/link`, token);
    await peer.closed;
    t.is(peer.status, 401, `token ${String(token)}`);
  }
  t.is(links, 0);
  t.deepEqual(rejected.map((r) => r.status), [401, 401, 401]);
  t.regex(rejected[1]?.reason ?? '', /missing token/);
  const good = new RawPeer(`${h.base}/v1/link`);
  t.deepEqual((await good.join('node-b')).body.nodeId, 'node-b');
  t.is(links, 1);
  good.ws.close();
});

test('repeated failures from one address are slowed down, growing per failure', async (t) => {
  const waits: number[] = [];
  const clock: Clock = { ...systemClock, setTimeout: (fn, ms) => (waits.push(ms), systemClock.setTimeout(fn, ms)) };
  const h = await startHarness({ clock, authThrottle: { baseMs: 80, maxMs: 1_000 } });
  t.teardown(() => h.close());
  const took: number[] = [];
  for (let i = 0; i < 4; i++) {
    const started = Date.now();
    const peer = new RawPeer(`${h.base}/v1/link`, 'guess');
    await peer.closed;
    t.is(peer.status, 401);
    took.push(Date.now() - started);
  }
  t.deepEqual(waits, [80, 160, 320], 'no wait at first, then doubling per failure');
  t.true(took[3]! >= 300, `the fourth answer really came late: ${took[3]} ms`);
  // Parallel guesses queue behind each other; those that would wait past the cap get 429 unevaluated.
  const burst = Array.from({ length: 6 }, () => new RawPeer(`${h.base}/v1/link`, 'guess'));
  await Promise.all(burst.map((p) => p.closed));
  t.true(burst.some((p) => p.status === 429));
});

test('upgrades for other paths are left to other listeners, or answered 404 when there is none', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const none = new RawPeer(`${h.base}/v1/admin`);
  await none.closed;
  t.is(none.status, 404);
  const seen: string[] = [];
  h.http.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    seen.push(req.url ?? '');
    socket.end('HTTP/1.1 418 I\'m a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  const other = new RawPeer(`${h.base}/v1/admin`);
  await other.closed;
  t.is(other.status, 418);
  t.deepEqual(seen, ['/v1/admin']);
  t.false(h.links.handleUpgrade({ url: '/v1/linked' } as IncomingMessage, {} as Duplex, Buffer.alloc(0)));
});

test('no hello within the timeout closes with 4001', async (t) => {
  const h = await startHarness({ helloTimeoutMs: 100 });
  t.teardown(() => h.close());
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.opened;
  const { code } = await peer.closed;
  t.is(code, LINK_CLOSE.HELLO_TIMEOUT.code);
});

test('malformed, schema-invalid and unknown frames get error frames, then close 4002; other links are unaffected', async (t) => {
  const h = await startHarness({ heartbeatMs: 5_000 });
  t.teardown(() => h.close());
  const bystander = new RawPeer(`${h.base}/v1/link`);
  await bystander.join('bystander');
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.join('noisy');
  peer.sendRaw('{this is not json');
  peer.sendRaw(JSON.stringify({ json: { v: 1, id: 'f2', type: 'heartbeat', body: { seq: 'x' } } }));
  peer.sendRaw(JSON.stringify({ json: { v: 1, id: 'f3', type: 'teleport', body: {} } }));
  const errors = [await peer.next('error'), await peer.next('error'), await peer.next('error')];
  t.true(errors.every((e) => e.body.code === 'GOAT_ERR_BAD_FRAME'));
  t.regex(errors[0]!.body.message, /not superjson/);
  t.regex(errors[1]!.body.message, /body\.seq/);
  t.is(errors[1]!.re, 'f2');
  t.regex(errors[2]!.body.message, /unknown frame type "teleport"/);
  t.is((await peer.closed).code, LINK_CLOSE.BAD_FRAMES.code);

  bystander.send('heartbeat', { seq: 1, usage: { tasks: 0, memoryMb: 0, cpuSeconds: 0 } });
  t.is((await bystander.next('heartbeat_ack')).body.seq, 1);
  t.is(h.links.links.size, 1);
  bystander.ws.close();
});

test('bad frames before the hello count too', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.opened;
  peer.send('heartbeat', { seq: 1, usage: { tasks: 0, memoryMb: 0, cpuSeconds: 0 } });
  peer.sendRaw(Buffer.from('binary'));
  peer.send('report', { tasks: [] });
  t.regex((await peer.next('error')).body.message, /expected hello first/);
  t.regex((await peer.next('error')).body.message, /binary/);
  t.is((await peer.closed).code, LINK_CLOSE.BAD_FRAMES.code);
});

test('a frame over maxPayload closes the link with 1009', async (t) => {
  const h = await startHarness({ maxPayload: 1_024 });
  t.teardown(() => h.close());
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.join();
  peer.send('report', { tasks: Array.from({ length: 50 }, (_, i) => ({ taskId: `web.${i}.abcdef`, service: 'web', slot: i, generation: 1, state: 'running', restarts: 0 })) });
  t.is((await peer.closed).code, LINK_CLOSE.TOO_BIG.code);
});

test('heartbeats are answered and passed on; reports too', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const linkP = h.nextLink();
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.join();
  const link = await linkP;
  const beat = new Promise<number>((resolve) => link.on('heartbeat', (b) => resolve(b.seq)));
  const report = new Promise<number>((resolve) => link.on('report', (r) => resolve(r.tasks.length)));
  const before = link.lastSeenAt;
  await delay(5);
  peer.send('heartbeat', { seq: 9, usage: { tasks: 1, memoryMb: 3, cpuSeconds: 1 } }, { id: 'hb9' });
  const ack = await peer.next('heartbeat_ack');
  t.is(ack.body.seq, 9);
  t.is(ack.re, 'hb9');
  peer.send('report', { tasks: [{ taskId: 't', service: 's', slot: 0, generation: 1, state: 'starting', restarts: 0 }] });
  t.is(await beat, 9);
  t.is(await report, 1);
  t.true(link.lastSeenAt > before);
  peer.ws.close();
});

test('a link silent for 3 × heartbeatMs is closed with 4008', async (t) => {
  // 200 ms beats sent every 50 ms: 600 ms of silence closes it, which a loaded machine does not reach between two sends.
  const h = await startHarness({ heartbeatMs: 200 });
  t.teardown(() => h.close());
  const linkP = h.nextLink();
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.join();
  const link = await linkP;
  const closed = new Promise<{ code: number }>((resolve) => link.on('close', resolve));
  // Heartbeats keep it open…
  let last = Date.now();
  for (let i = 0; i < 8; i++) {
    peer.send('heartbeat', { seq: i, usage: { tasks: 0, memoryMb: 0, cpuSeconds: 0 } });
    last = Date.now();
    await delay(50);
  }
  t.true(link.open);
  // …silence closes it.
  t.is((await peer.closed).code, LINK_CLOSE.SILENT.code);
  t.is((await closed).code, LINK_CLOSE.SILENT.code);
  t.true(Date.now() - last >= 3 * 200 - 50, 'not before 3 intervals of silence (the timer may count from a little before the last beat)');
});

test('a command is re-sent every retryMs until acked, and resolves with the ack', async (t) => {
  const h = await startHarness({ retryMs: 40, heartbeatMs: 5_000 });
  t.teardown(() => h.close());
  const linkP = h.nextLink();
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.join();
  const link = await linkP;
  const result = link.command('assign', { task: { taskId: 'web.0.x', service: 'web', slot: 0, generation: 2, spec: { command: ['sleep', '1'] } } });
  const stopped = link.command('stop', { cmdId: 'same', taskId: 'a', generation: 1 });
  t.is(link.command('stop', { cmdId: 'same', taskId: 'a', generation: 1 }), stopped, 'one promise per pending cmdId');
  for (const p of [result, stopped]) p.catch(() => {}); // awaited below
  const first = await peer.next('assign');
  const second = await peer.next('assign');
  const third = await peer.next('assign');
  t.is(first.body.cmdId, second.body.cmdId);
  t.is(first.body.cmdId, third.body.cmdId);
  t.is(first.body.task.spec.restart.policy, 'always', 'the spec arrives normalized');
  peer.send('ack', { cmdId: first.body.cmdId, applied: true }, { re: third.id });
  t.deepEqual(await result, { applied: true });
  peer.send('ack', { cmdId: first.body.cmdId, applied: false }); // a late duplicate is ignored
  const stop = await peer.next('stop');
  t.is(stop.body.cmdId, 'same');
  peer.send('ack', { cmdId: 'same', applied: false });
  t.deepEqual(await stopped, { applied: false });
  await delay(20);
  peer.frames.length = 0;
  await delay(100);
  t.deepEqual(peer.frames.map((f) => f.type), [], 'no re-sends after the ack');
  t.is(link.pendingCommands, 0);
  peer.ws.close();
});

test('a worker error frame answering a command is passed on with its cmdId; the command stays pending', async (t) => {
  const h = await startHarness({ retryMs: 1_000 });
  t.teardown(() => h.close());
  const linkP = h.nextLink();
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.join();
  const link: ManagerLink = await linkP;
  const remote = new Promise((resolve) => link.on('remoteError', resolve));
  const result = link.command('stop', { cmdId: 'c-9', taskId: 't', generation: 1 });
  result.catch(() => {}); // awaited below; a failed assertion before then must not leave it unhandled
  const stop = await peer.next('stop');
  peer.send('error', { code: 'GOAT_ERR_RUNTIME', message: 'boom' }, { re: stop.id });
  t.deepEqual(await remote, { code: 'GOAT_ERR_RUNTIME', message: 'boom', re: stop.id, cmdId: 'c-9' });
  t.is(link.pendingCommands, 1);
  peer.send('ack', { cmdId: 'c-9', applied: true });
  t.deepEqual(await result, { applied: true });
  peer.ws.close();
});

test('pending commands reject with GOAT_ERR_LINK_CLOSED when the link closes', async (t) => {
  const h = await startHarness({ retryMs: 30 });
  t.teardown(() => h.close());
  const linkP = h.nextLink();
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.join();
  const link = await linkP;
  const result = link.command('stop', { taskId: 't', generation: 4 });
  result.catch(() => {}); // asserted below
  await peer.next('stop');
  peer.ws.terminate();
  const err = await t.throwsAsync(result);
  t.true(isGoatError(err, 'GOAT_ERR_LINK_CLOSED'));
  t.true((err as { temporary?: boolean }).temporary);
  await t.throwsAsync(link.command('stop', { taskId: 't', generation: 5 }), { message: /closed before command/ });
});

test('a second hello on a link is a bad frame', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.join();
  peer.send('hello', helloBody());
  t.regex((await peer.next('error')).body.message, /hello already received/);
  peer.ws.close();
});

test('closing the server closes its links with 1001 and refuses new ones', async (t) => {
  const h = await startHarness();
  const peer = new RawPeer(`${h.base}/v1/link`);
  await peer.join();
  h.links.close();
  t.is((await peer.closed).code, LINK_CLOSE.GOING_AWAY.code);
  const late = new RawPeer(`${h.base}/v1/link`, TOKEN);
  await late.closed;
  t.is(late.status, 503);
  await h.close();
});
