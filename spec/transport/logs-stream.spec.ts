import test from 'ava';
import { decodeFrame, encodeFrame, type Frame } from '../../transport/frames.js';
import { LogRouter, type LogPort } from '../../transport/logs-manager.js';
import { WorkerLogStreams, type LogOpener } from '../../transport/logs-worker.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LogEvent, LogEventStream } from '../../lib/logs/index.js';
import { lineSource } from '../helpers/log-source.js';
import { sendLogs } from '../../transport/logs-http.js';

/** A router and a worker joined by frames encoded and decoded as on a link (no socket). */
function joined(open: LogOpener, o: { window?: number; maxLines?: number } = {}) {
  const router = new LogRouter({ window: o.window ?? 100, openTimeoutMs: 500 });
  const worker = new WorkerLogStreams(open, { maxLines: o.maxLines ?? 1_000 });
  const sent = { data: 0, lines: 0 };
  const port: LogPort = {
    send(type, body) {
      const f = decodeFrame(encodeFrame(type, body), 'toWorker');
      if (f instanceof Error) throw f;
      setImmediate(() => worker.handle(f as Frame<'logs_open' | 'logs_credit' | 'logs_cancel'>, (t, b) => {
        const back = decodeFrame(encodeFrame(t, b), 'toManager');
        if (back instanceof Error) throw back;
        if (back.type === 'logs_data') {
          sent.data++;
          sent.lines += back.body.lines.length;
        }
        setImmediate(() => router.frame('n1', back as Frame<'logs_data' | 'logs_end'>));
        return true;
      }));
      return true;
    },
  };
  router.attach('n1', port);
  return { router, worker, sent, port };
}

test('a read delivers every line in order and ends', async (t) => {
  const { opener } = lineSource(20, 50, 'immediate');
  const { router } = joined(opener);
  const texts: string[] = [];
  for await (const e of router.open('n1', 'web.0.a', 1, {})) if (e.type === 'line') texts.push(e.text);
  t.is(texts.length, 1_000);
  t.is(texts[999], 'line 999');
  t.is(router.size, 0);
});

test('a reader that stops reading holds at most the window on the manager; the worker buffer stays bounded and counts drops', async (t) => {
  const { opener, produced } = lineSource(Infinity, 50, 'immediate');
  const { router, worker } = joined(opener, { window: 100, maxLines: 500 });
  const it = router.open('n1', 'web.0.a', 1, { follow: true });
  const first = await it.next();
  t.is(first.done, false);
  // Stop reading: the worker keeps reading its source (a followed stream) but may not send past the credit.
  for (let i = 0; i < 500 && produced() <= 2_000; i++) await new Promise((r) => setTimeout(r, 20));
  t.true(produced() > 2_000, `the source kept being read (${produced()})`);
  t.true(router.queuedLines <= 100, `manager queue bounded by the window (${router.queuedLines})`);
  t.true(worker.bufferedLines <= 500, `worker buffer bounded (${worker.bufferedLines})`);
  // Read again: a notice of the dropped lines comes, then lines again.
  let dropped = 0;
  for (let i = 0; i < 400; i++) {
    const r = await it.next();
    if (!r.done && r.value.type === 'dropped') dropped += r.value.count;
  }
  t.true(dropped > 0, 'dropped lines were counted and reported');
  await it.return!();
  await new Promise((r) => setTimeout(r, 50));
  t.is(worker.size, 0, 'break cancels the stream on the worker');
});

test('a node that never answers, or whose link closes, ends the read with an error naming it', async (t) => {
  const router = new LogRouter({ openTimeoutMs: 100 });
  const silent: LogPort = { send: () => true };
  router.attach('n9', silent);
  const events = [];
  for await (const e of router.open('n9', 'web.0.a', 1, { follow: true })) events.push(e);
  t.like(events[0], { type: 'error', code: 'GOAT_ERR_NODE_UNREACHABLE' });
  t.regex((events[0] as { message: string }).message, /node n9 did not answer/);
  const it = router.open('n9', 'web.0.b', 1, { follow: true });
  router.detach('n9', silent);
  const r = await it.next();
  t.like(r.value, { type: 'error', code: 'GOAT_ERR_LINK_CLOSED' });
  t.true((await it.next()).done);
  t.throws(() => router.open('n9', 'web.0.c', 1, {}), { message: /node n9 is not linked/ });
});

test('a task with no logs on its node is an error event from the worker', async (t) => {
  const { router } = joined(async () => undefined);
  const events = [];
  for await (const e of router.open('n1', 'web.0.gone', 3, {})) events.push(e);
  t.like(events[0], { type: 'error', code: 'GOAT_ERR_NO_SUCH_TASK' });
});

test('takeReady hands over what has arrived without waiting, mixed with next(); the credit keeps flowing, so a small window reads everything', async (t) => {
  const { opener } = lineSource(20, 50, 'immediate');
  const { router } = joined(opener, { window: 100 });
  const stream = router.open('n1', 'web.0.a', 1, {});
  const texts: string[] = [];
  let batches = 0;
  for (let r = await stream.next(); !r.done; r = await stream.next()) {
    if (r.value.type === 'line') texts.push(r.value.text);
    const more = stream.takeReady!(1_000);
    if (more.length > 0) batches++;
    for (const e of more) if (e.type === 'line') texts.push(e.text);
  }
  t.is(texts.length, 1_000);
  t.deepEqual(texts.slice(0, 3), ['line 0', 'line 1', 'line 2']);
  t.is(texts[999], 'line 999');
  t.true(batches > 0, 'some events were taken in batches');
  t.deepEqual(stream.takeReady!(10), []);
});

test('HTTP: JSON lines are what JSON.stringify gives for every event; text is formatted; a task\'s error ends it as a notice', async (t) => {
  const events: LogEvent[] = [
    { type: 'line', task: 'web.0.a', stream: 'stdout', at: 1_000, text: 'héllo "wörld"\t\u0001' },
    { type: 'dropped', task: 'web.0.a', count: 3 },
    { type: 'line', task: 'web.0.a', stream: 'stderr', at: 2_000, text: 'oops' },
    { type: 'error', task: 'web.0.a', code: 'GOAT_ERR_LINK_CLOSED', message: 'the link to node n1 closed' },
  ];
  const serve = async (accept: string): Promise<string> => {
    const server = createServer((req, res) => void sendLogs(fromArray(events), req, res, { prefix: false, timestamps: false }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { headers: { accept } });
      return await res.text();
    } finally {
      server.close();
    }
  };
  t.is(await serve('application/x-ndjson'), events.map((e) => `${JSON.stringify(e)}\n`).join(''));
  t.is(await serve('text/plain'), 'out | héllo "wörld"\t\u0001\n[goat] 3 line(s) dropped: the reader did not keep up\nerr | oops\n[goat] the link to node n1 closed (GOAT_ERR_LINK_CLOSED)\n');
});

/** A log stream of the given events, with takeReady. */
function fromArray(events: LogEvent[]): LogEventStream {
  const queue = [...events];
  const stream: LogEventStream = {
    next: async () => (queue.length > 0 ? { done: false, value: queue.shift()! } : { done: true, value: undefined }),
    takeReady: (max) => queue.splice(0, max),
    [Symbol.asyncIterator]: () => stream,
  };
  return stream;
}
