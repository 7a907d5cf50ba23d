/**
 * The worker's end of log streams: `logs_open` opens a task's logs on this
 * node's runtime, lines go out in `logs_data` frames only as far as the
 * manager's credit allows, `logs_credit` allows more, `logs_cancel` (or the
 * link closing) ends the stream. While the credit is spent, a followed stream
 * keeps reading into a bounded buffer that drops its oldest lines and counts
 * them (reported in the next frame); a stream that is not followed just
 * stops reading, so nothing of it is lost.
 */
import { GoatError } from '../lib/errors.js';
import { BoundedLines, type LogLine, type LogReadOptions, type LogReader } from '../lib/logs/index.js';
import type { Frame } from './frames.js';
import type { LogSend } from './link-client.js';

/** Opens a task instance's logs on this node; undefined when it has none here. */
export type LogOpener = (taskId: string, generation: number, options: LogReadOptions) => Promise<LogReader | undefined>;

/** Bounds of {@link WorkerLogStreams}. */
export interface WorkerLogOptions {
  /** Lines one stream holds while its reader is behind. @default 5000 */
  maxLines?: number;
  /** Bytes one stream holds while its reader is behind. @default 4 MiB */
  maxBytes?: number;
  /** Streams open at once on this worker. @default 256 */
  maxStreams?: number;
  /**
   * How long lines read may wait to be sent together in one `logs_data`
   * frame, in ms: a fast printer's small Docker chunks become one frame per
   * linger instead of one per chunk. A frame goes at once when it is full
   * ({@link FRAME_LINES} lines or {@link FRAME_BYTES}), when credit
   * arrives, and when the reader ends. 0: one tick (setImmediate).
   * @default 5
   */
  lingerMs?: number;
}

/** Largest `logs_data` frame, in lines and in bytes of text. */
export const FRAME_LINES = 2_000;
export const FRAME_BYTES = 512 * 1024;

interface Stream {
  id: string;
  reader: LogReader | null;
  buffer: BoundedLines;
  credit: number;
  follow: boolean;
  send: LogSend;
  done: boolean;
  closed: boolean;
  /** Wakes the pump when credit arrives (a stream that is not followed waits for it). */
  wake: (() => void) | null;
  /** A flush scheduled for the end of the linger, if one is. */
  timer: { cancel(): void } | null;
}

/** Every log stream a worker serves, by stream id. */
export class WorkerLogStreams {
  readonly #streams = new Map<string, Stream>();
  readonly #o: Required<WorkerLogOptions>;
  /** `logs_data` frames sent with lines (for tests and benchmarks: how well lines are batched). */
  framesSent = 0;

  constructor(
    readonly open: LogOpener,
    options: WorkerLogOptions = {},
  ) {
    this.#o = { maxLines: options.maxLines ?? 5_000, maxBytes: options.maxBytes ?? 4 * 1024 * 1024, maxStreams: options.maxStreams ?? 256, lingerMs: options.lingerMs ?? 5 };
  }

  /** How many streams are open. */
  get size(): number {
    return this.#streams.size;
  }

  /** Lines held by all streams (for tests and benchmarks: the bound in action). */
  get bufferedLines(): number {
    let n = 0;
    for (const s of this.#streams.values()) n += s.buffer.size;
    return n;
  }

  /** Handles a log frame from the manager. */
  handle(frame: Frame<'logs_open' | 'logs_credit' | 'logs_cancel'>, send: LogSend): void {
    switch (frame.type) {
      case 'logs_open':
        return void this.#open(frame.body, send);
      case 'logs_credit': {
        const s = this.#streams.get(frame.body.streamId);
        if (!s) return;
        s.credit += frame.body.lines;
        this.#flush(s);
        s.wake?.();
        return;
      }
      case 'logs_cancel': {
        const s = this.#streams.get(frame.body.streamId);
        if (s) this.#close(s, { reason: 'cancelled' });
        return;
      }
    }
  }

  /** Ends every stream (the worker is stopping). */
  closeAll(): void {
    for (const s of [...this.#streams.values()]) this.#close(s, { reason: 'error', code: 'GOAT_ERR_LINK_CLOSED', message: 'the worker is stopping' });
  }

  async #open(body: Frame<'logs_open'>['body'], send: LogSend): Promise<void> {
    const { streamId } = body;
    if (this.#streams.has(streamId)) return;
    if (this.#streams.size >= this.#o.maxStreams) {
      send('logs_end', { streamId, reason: 'error', code: 'GOAT_ERR_RESOURCE', message: `this worker already serves ${this.#o.maxStreams} log streams` });
      return;
    }
    const s: Stream = {
      id: streamId, reader: null, buffer: new BoundedLines(this.#o.maxLines, this.#o.maxBytes), credit: body.credit,
      follow: body.follow, send, done: false, closed: false, wake: null, timer: null,
    };
    this.#streams.set(streamId, s);
    try {
      const options: LogReadOptions = { follow: body.follow, ...(body.tail === undefined ? {} : { tail: body.tail }), ...(body.since === undefined ? {} : { since: body.since }) };
      const reader = await this.open(body.taskId, body.generation, options);
      if (s.closed) return reader?.close();
      if (!reader) {
        throw new GoatError('GOAT_ERR_NO_SUCH_TASK', `task ${body.taskId} (generation ${body.generation}) has no logs on this node (removed, or never started here)`);
      }
      s.reader = reader;
      send('logs_data', { streamId, lines: [] }); // opened: the manager stops waiting for an answer
      await this.#pump(s, reader);
    } catch (err) {
      this.#close(s, { reason: 'error', code: err instanceof GoatError ? err.code : 'GOAT_ERR_RUNTIME', message: (err instanceof Error ? err.message : String(err)).slice(0, 4096) });
    }
  }

  async #pump(s: Stream, reader: LogReader): Promise<void> {
    const it = reader[Symbol.asyncIterator]();
    while (!s.closed) {
      // Not followed: read no further than the buffer can hold without dropping (nothing is lost, the source waits).
      if (!s.follow && s.buffer.size >= this.#o.maxLines / 2) {
        await new Promise<void>((resolve) => (s.wake = resolve));
        s.wake = null;
        continue;
      }
      const r = await it.next();
      if (r.done || s.closed) break;
      s.buffer.push(r.value);
      this.#later(s);
    }
    s.done = true;
    this.#flush(s);
  }

  /** Sends now when a full frame is waiting, else once the linger is over (one frame for all that came meanwhile). */
  #later(s: Stream): void {
    if (s.buffer.size >= FRAME_LINES || s.buffer.bytes >= FRAME_BYTES) return this.#flush(s);
    if (s.timer || s.credit <= 0) return; // credit's arrival flushes
    const fire = (): void => {
      s.timer = null;
      this.#flush(s);
    };
    if (this.#o.lingerMs > 0) {
      const t = setTimeout(fire, this.#o.lingerMs);
      s.timer = { cancel: () => clearTimeout(t) };
    } else {
      const t = setImmediate(fire);
      s.timer = { cancel: () => clearImmediate(t) };
    }
  }

  /** Sends what the credit allows; ends the stream once its reader is done and all is sent. */
  #flush(s: Stream): void {
    this.#cancelTimer(s);
    while (!s.closed && s.credit > 0 && s.buffer.size > 0) {
      const lines = takeFrame(s.buffer, Math.min(s.credit, FRAME_LINES));
      s.credit -= lines.length;
      const dropped = s.buffer.takeDropped();
      const sent = s.send('logs_data', { streamId: s.id, lines: lines.map((l) => ({ s: l.stream === 'stderr' ? 'e' : 'o', t: l.at, x: l.text.slice(0, 65_536) })), ...(dropped > 0 ? { dropped } : {}) });
      if (!sent) return this.#close(s, null);
      this.framesSent++;
    }
    if (s.done && s.buffer.size === 0 && !s.closed) this.#close(s, { reason: 'ended' });
  }

  #close(s: Stream, end: { reason: 'ended' | 'cancelled' | 'error'; code?: string; message?: string } | null): void {
    if (s.closed) return;
    s.closed = true;
    this.#cancelTimer(s);
    this.#streams.delete(s.id);
    s.reader?.close();
    s.wake?.();
    const dropped = s.buffer.takeDropped();
    if (end && end.reason !== 'cancelled') s.send('logs_end', { streamId: s.id, ...end, ...(dropped > 0 ? { dropped } : {}) });
  }

  #cancelTimer(s: Stream): void {
    s.timer?.cancel();
    s.timer = null;
  }
}

/** Up to `max` lines and {@link FRAME_BYTES} of text from the buffer. */
function takeFrame(buffer: BoundedLines, max: number): LogLine[] {
  return buffer.take(max, FRAME_BYTES);
}
