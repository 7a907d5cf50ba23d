import test from 'ava';
import { FRAME_BYTES, FRAME_LINES, WorkerLogStreams, type LogOpener } from '../../transport/logs-worker.js';
import { lineSource } from '../helpers/log-source.js';
import type { Frame } from '../../transport/frames.js';

type Sent = { type: 'logs_data' | 'logs_end'; body: { lines?: { x: string }[]; dropped?: number; reason?: string } };

/** Opens stream `s1` on a worker and records what it sends. */
function serve(opener: LogOpener, o: { credit: number; follow?: boolean; lingerMs?: number; maxLines?: number }) {
  const worker = new WorkerLogStreams(opener, { lingerMs: o.lingerMs ?? 5, ...(o.maxLines ? { maxLines: o.maxLines } : {}) });
  const sent: Sent[] = [];
  const send = ((type: 'logs_data' | 'logs_end', body: Sent['body']) => (sent.push({ type, body }), true)) as Parameters<WorkerLogStreams['handle']>[1];
  worker.handle({ type: 'logs_open', body: { streamId: 's1', taskId: 'web.0.a', generation: 1, follow: o.follow ?? false, credit: o.credit } } as Frame<'logs_open'>, send);
  const lines = (): string[] => sent.flatMap((f) => (f.body.lines ?? []).map((l) => l.x));
  const dataFrames = (): Sent[] => sent.filter((f) => f.type === 'logs_data' && (f.body.lines?.length ?? 0) > 0);
  const ended = (): boolean => sent.some((f) => f.type === 'logs_end');
  const credit = (n: number): void => worker.handle({ type: 'logs_credit', body: { streamId: 's1', lines: n } } as Frame<'logs_credit'>, send);
  return { worker, sent, lines, dataFrames, ended, credit };
}

const until = async (f: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 2_000 && !f(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!f()) throw new Error(`timed out waiting for ${what}`);
};

test('one-line chunks go out batched into full frames, in order', async (t) => {
  const { opener } = lineSource(5_000, 1, 'microtask');
  const w = serve(opener, { credit: 100_000, lingerMs: 0 });
  await until(w.ended, 'the end');
  t.deepEqual(w.lines(), Array.from({ length: 5_000 }, (_, i) => `line ${i}`));
  // Per-chunk frames would be 5,000; the chunks came within one tick, so only full frames and the rest go.
  t.is(w.dataFrames().length, Math.ceil(5_000 / FRAME_LINES));
  t.is(w.worker.framesSent, w.dataFrames().length);
});

test('chunks arriving over several ticks share frames during the linger', async (t) => {
  const { opener } = lineSource(400, 1, 'immediate');
  const w = serve(opener, { credit: 100_000, lingerMs: 20 });
  await until(w.ended, 'the end');
  t.deepEqual(w.lines(), Array.from({ length: 400 }, (_, i) => `line ${i}`));
  t.true(w.dataFrames().length < 400 / 4, `${w.dataFrames().length} frames for 400 one-line chunks`);
});

test('a frame never exceeds its bounds in lines or bytes', async (t) => {
  const big = 'x'.repeat(10_000); // 10 kB lines: the byte bound bites first
  const { opener } = lineSource(3, 100, 'microtask', (i) => `${i} ${big}`);
  const w = serve(opener, { credit: 100_000, lingerMs: 0, maxLines: 10_000 });
  await until(w.ended, 'the end');
  t.deepEqual(w.lines().map((x) => Number(x.split(' ')[0])), Array.from({ length: 300 }, (_, i) => i));
  t.true(w.dataFrames().length >= Math.ceil((300 * 10_000) / FRAME_BYTES));
  for (const f of w.dataFrames()) {
    t.true(f.body.lines!.length <= FRAME_LINES);
    t.true(f.body.lines!.reduce((n, l) => n + l.x.length, 0) <= FRAME_BYTES);
  }
  const { opener: many } = lineSource(1, 5_000, 'microtask');
  const m = serve(many, { credit: 100_000, lingerMs: 0, maxLines: 10_000 });
  await until(m.ended, 'the end');
  t.deepEqual(m.dataFrames().map((f) => f.body.lines!.length), [2_000, 2_000, 1_000]);
});

test('batching never sends past the credit; credit arriving sends at once', async (t) => {
  const { opener } = lineSource(300, 1, 'microtask');
  const w = serve(opener, { credit: 50, lingerMs: 10_000 }); // a linger this long: only the credit, the end or a full frame sends
  await until(() => w.lines().length >= 50, 'the first credit spent');
  await new Promise((r) => setTimeout(r, 50));
  t.is(w.lines().length, 50, 'no more than the credit');
  w.credit(100);
  t.is(w.lines().length, 150, 'the credit sent what was waiting, without waiting for the linger');
  w.credit(1_000);
  await until(w.ended, 'the end');
  t.deepEqual(w.lines(), Array.from({ length: 300 }, (_, i) => `line ${i}`));
});

test('a followed stream without credit keeps its buffer bounded and reports the dropped lines', async (t) => {
  const { opener, produced } = lineSource(Infinity, 10, 'immediate');
  const w = serve(opener, { credit: 20, follow: true, lingerMs: 1, maxLines: 100 });
  await until(() => produced() > 1_000, 'the source being read on');
  t.is(w.lines().length, 20);
  t.true(w.worker.bufferedLines <= 100, `bounded (${w.worker.bufferedLines})`);
  w.credit(50);
  const dropped = w.sent.reduce((n, f) => n + (f.body.dropped ?? 0), 0);
  t.true(dropped > 0, 'the dropped lines are counted in the next frame');
  w.worker.handle({ type: 'logs_cancel', body: { streamId: 's1' } } as Frame<'logs_cancel'>, () => true);
  t.is(w.worker.size, 0);
});
