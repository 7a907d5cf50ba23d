/**
 * A worker refuses an older leader (HA): a `welcome` from an epoch below the
 * highest it stored is answered with an error frame and the link dropped; a
 * command from an older epoch than the welcome's (or the stored one) is
 * answered with an error frame and never reaches the handler; the stored
 * epoch survives a restart. A fake manager on loopback speaks raw frames.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { GoatError } from '../../lib/errors.js';
import { EpochFile } from '../../lib/ha/epoch-file.js';
import { decodeFrame, encodeFrame, type AssignBody, type Frame, type StopBody } from '../../transport/frames.js';
import { LinkClient, type LinkClientEvents } from '../../transport/link-client.js';
import { helloBody, TOKEN } from '../transport/helpers.js';
import { eventually } from '../runtime/helpers/wait.js';

/** A fake manager that welcomes every hello with `epoch()` and records what the worker sends. */
interface FakeManager {
  url: string;
  received: Frame[];
  closes: { code: number; reason: string }[];
  /** The socket of the latest welcomed connection. */
  socket: () => WebSocket | null;
}

async function fakeManager(t: { teardown: (fn: () => Promise<void>) => void }, epoch: () => number): Promise<FakeManager> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.teardown(() => new Promise<void>((resolve) => {
    for (const ws of wss.clients) ws.terminate();
    wss.close(() => resolve());
  }));
  const fake: FakeManager = { url: '', received: [], closes: [], socket: () => null };
  let latest: WebSocket | null = null;
  fake.socket = () => latest;
  wss.on('connection', (ws) => {
    ws.on('close', (code, reason) => fake.closes.push({ code, reason: reason.toString() }));
    ws.on('message', (data) => {
      const frame = decodeFrame(data.toString(), 'toManager');
      if (frame instanceof GoatError) return;
      fake.received.push(frame);
      if (frame.type === 'hello') {
        latest = ws;
        ws.send(encodeFrame('welcome', { nodeId: frame.body.nodeId, heartbeatMs: 1_000, epoch: epoch() }));
      }
    });
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  fake.url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  return fake;
}

async function tempDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'goat-epoch-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A link client wired to an epoch file as the worker does (actors/worker/join.ts). */
function client(t: { teardown: (fn: () => Promise<void>) => void }, url: string, epochs: EpochFile, calls: { assign: AssignBody[]; stop: StopBody[] }): LinkClient {
  const c = new LinkClient({
    urls: [url],
    token: TOKEN,
    hello: () => helloBody('node-e'),
    onAssign: async (body) => (calls.assign.push(body), { applied: true }),
    onStop: async (body) => (calls.stop.push(body), { applied: true }),
    minEpoch: () => epochs.epoch,
    onEpoch: (epoch) => (epoch > epochs.epoch ? epochs.raise(epoch) : undefined),
    backoff: { initialMs: 5_000, maxMs: 5_000 },
  });
  t.teardown(() => c.stop());
  return c;
}

const spec = { command: ['sleep', '100'] };

test('a welcome from an epoch older than the stored one is refused with an error frame and the link is closed', async (t) => {
  const dir = await tempDir(t);
  const stored = await EpochFile.load(dir);
  await stored.raise(7);
  const epochs = await EpochFile.load(dir); // as a restarted worker: from disk
  t.is(epochs.epoch, 7);
  const fake = await fakeManager(t, () => 6);
  const calls = { assign: [] as AssignBody[], stop: [] as StopBody[] };
  const c = client(t, fake.url, epochs, calls);
  const stale: LinkClientEvents['staleEpoch'][] = [];
  const lost: LinkClientEvents['disconnected'][] = [];
  let connected = false;
  c.on('staleEpoch', (e) => stale.push(e));
  c.on('disconnected', (e) => lost.push(e));
  c.on('connected', () => (connected = true));
  c.start();
  await eventually('the link dropped', () => lost.length >= 1 && fake.closes.length >= 1, 10_000, 10);
  t.deepEqual(stale, [{ url: `${fake.url}/v1/link`, epoch: 6, min: 7 }]);
  const errors = fake.received.filter((f) => f.type === 'error');
  t.is(errors.length, 1, 'one error frame');
  t.like(errors[0]?.body, { code: 'GOAT_ERR_NOT_READY' });
  t.regex((errors[0]?.body as { message: string }).message, /epoch 6 is older than 7/);
  t.like(lost[0], { wasConnected: false, reason: 'stale epoch' });
  t.false(connected, 'never counted as linked');
  t.is(c.status, 'disconnected');
  t.is(epochs.epoch, 7, 'the stored epoch is not lowered');
  t.is((await readFile(join(dir, 'epoch'), 'utf8')).trim(), '7');
});

test('after a welcome with epoch 5, an assign or stop from epoch 4 gets an error frame and never reaches the handler', async (t) => {
  const dir = await tempDir(t);
  const epochs = await EpochFile.load(dir);
  t.is(epochs.epoch, 0, 'no file yet');
  const fake = await fakeManager(t, () => 5);
  const calls = { assign: [] as AssignBody[], stop: [] as StopBody[] };
  const c = client(t, fake.url, epochs, calls);
  const stale: LinkClientEvents['staleEpoch'][] = [];
  c.on('staleEpoch', (e) => stale.push(e));
  const connected = new Promise((resolve) => c.on('connected', resolve));
  c.start();
  await connected;
  t.is(epochs.epoch, 5, 'the welcomed epoch is stored before the link counts as up');
  t.is((await readFile(join(dir, 'epoch'), 'utf8')).trim(), '5');
  const ws = fake.socket()!;
  const answers = (id: string): Frame[] => fake.received.filter((f) => (f.type === 'error' || f.type === 'ack') && f.re === id);
  let n = 0;
  const send = <T extends 'assign' | 'stop'>(type: T, body: Parameters<typeof encodeFrame<T>>[1]): string => {
    const id = `cmd-frame-${n++}`;
    ws.send(encodeFrame(type, body, { id }));
    return id;
  };
  const oldAssign = send('assign', { cmdId: 'a-old', epoch: 4, task: { taskId: 'web.0.a', service: 'web', slot: 0, generation: 1, spec } });
  const oldStop = send('stop', { cmdId: 's-old', epoch: 4, taskId: 'web.0.a', generation: 1 });
  // The current leader's commands (with its epoch, and without one: the welcome's) do run, so the refusals above are about the epoch.
  const newAssign = send('assign', { cmdId: 'a-new', epoch: 5, task: { taskId: 'web.1.b', service: 'web', slot: 1, generation: 1, spec } });
  const newStop = send('stop', { cmdId: 's-new', taskId: 'web.1.b', generation: 1 });
  await eventually('every command answered', () => [oldAssign, oldStop, newAssign, newStop].every((id) => answers(id).length > 0), 10_000, 10);
  for (const [id, cmdId] of [[oldAssign, 'a-old'], [oldStop, 's-old']] as const) {
    const [answer, ...more] = answers(id);
    t.is(more.length, 0);
    t.is(answer?.type, 'error', `${cmdId} refused`);
    t.like(answer?.body, { code: 'GOAT_ERR_NOT_READY' });
    t.regex((answer?.body as { message: string }).message, new RegExp(`command ${cmdId} from epoch 4, older than 5`));
  }
  t.is(answers(newAssign)[0]?.type, 'ack');
  t.is(answers(newStop)[0]?.type, 'ack');
  t.deepEqual(calls.assign.map((a) => a.cmdId), ['a-new'], 'the handler never saw the old epoch\'s assign');
  t.deepEqual(calls.stop.map((s) => s.cmdId), ['s-new'], 'nor its stop');
  t.deepEqual(stale.map((e) => e.epoch), [4, 4]);
  t.is(c.status, 'connected', 'a stale command does not cost the current leader\'s link');
});

test('the epoch file survives a reload, is only ever raised, and reads 0 when missing or garbled', async (t) => {
  const dir = await tempDir(t);
  const first = await EpochFile.load(dir);
  await first.raise(5);
  await first.raise(3); // lower: ignored
  t.is(first.epoch, 5);
  await Promise.all([first.raise(8), first.raise(6)]);
  t.is(first.epoch, 8);
  const reloaded = await EpochFile.load(dir);
  t.is(reloaded.epoch, 8, 'a restarted worker still knows the highest epoch');
  t.is((await readFile(join(dir, 'epoch'), 'utf8')).trim(), '8');
  // A restarted worker refuses the deposed leader's welcome (epoch 6 < 8) but not a newer one.
  const fake = await fakeManager(t, () => 6);
  const c = client(t, fake.url, reloaded, { assign: [], stop: [] });
  const stale = new Promise<LinkClientEvents['staleEpoch']>((resolve) => c.on('staleEpoch', resolve));
  c.start();
  t.like(await stale, { epoch: 6, min: 8 });
  await writeFile(join(dir, 'epoch'), 'not a number\n');
  t.is((await EpochFile.load(dir)).epoch, 0);
  t.is((await EpochFile.load(join(dir, 'missing'))).epoch, 0);
});
