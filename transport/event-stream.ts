/**
 * The SSE form of `GET /v1/events`: a replay of the stored log in pages, then
 * the live stream, with a bounded buffer per subscriber. A subscriber that
 * does not read (its socket's buffer grows past `maxBufferedBytes`, or a
 * replay page waits longer than `stallMs` to drain) is dropped with a final
 * `event: dropped` naming the reason; it can reconnect with `since=<last id>`.
 * The manager's memory per subscriber is bounded by that buffer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GoatError } from '../lib/errors.js';
import type { ClusterEvent } from '../lib/model/index.js';

/** Limits of an event stream. */
export interface EventStreamOptions {
  /** Bytes a subscriber may have unsent before it is dropped. @default 1048576 (1 MiB) */
  maxBufferedBytes?: number;
  /** Events read from the store per replay page. @default 200 */
  pageSize?: number;
  /** A replay page that has not drained after this long drops the subscriber, ms. @default 30000 */
  stallMs?: number;
  /** A comment line keeps idle connections open this often, ms. @default 15000 */
  keepAliveMs?: number;
}

/** Defaults of {@link EventStreamOptions}. */
export const EVENT_STREAM_DEFAULTS = Object.freeze({ maxBufferedBytes: 1 << 20, pageSize: 200, stallMs: 30_000, keepAliveMs: 15_000 });

/** What an event stream reads. */
export interface EventSource {
  eventsSince(seq: number, limit: number): ClusterEvent[];
  subscribeEvents(listener: (e: ClusterEvent) => void): () => void;
}

/**
 * Replay pages of every subscriber wait in one queue, and each turn of the
 * event loop runs them for at most {@link SLICE_MS}: 200 subscribers
 * replaying 10,000 events each share the process with the API instead of
 * starving it (issue 11: `since=0` stalled the API for 24 s).
 */
const replayQueue: (() => void)[] = [];
let pumping = false;
const SLICE_MS = 5;
function enqueuePage(job: () => void): void {
  replayQueue.push(job);
  if (!pumping) {
    pumping = true;
    setImmediate(pump);
  }
}
function pump(): void {
  const until = performance.now() + SLICE_MS;
  do replayQueue.shift()?.();
  while (replayQueue.length > 0 && performance.now() < until);
  if (replayQueue.length > 0) setImmediate(pump);
  else pumping = false;
}

/** One event as an SSE frame; cached per event object, so 1,000 subscribers serialize it once. */
const frames = new WeakMap<ClusterEvent, string>();
function frameOf(e: ClusterEvent): string {
  let f = frames.get(e);
  if (f === undefined) {
    f = `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
    frames.set(e, f);
  }
  return f;
}

/**
 * Parses `since` (and `limit`) of `/v1/events`: decimal digits only, else a
 * 400 naming the field. A `since` past the end of the log is clamped to it
 * (the stream then starts with the next event).
 */
export function parseSeq(value: string | null, field: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === null) return fallback;
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new GoatError('GOAT_ERR_BAD_REQUEST', `invalid query: ${field}: decimal digits expected (a whole number >= 0), got '${value.slice(0, 40)}'`, { details: { field } });
  }
  return Math.min(Number(value), max);
}

/** Serves one SSE subscriber from `since` on. */
export function streamEvents(source: EventSource, req: IncomingMessage, res: ServerResponse, since: number, options: EventStreamOptions = {}): void {
  const o = { ...EVENT_STREAM_DEFAULTS, ...options };
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders(); // the client sees the stream open even before the first event
  let last = since;
  let live = false;
  let closed = false;
  let stall: NodeJS.Timeout | undefined;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    if (stall) clearTimeout(stall);
    off();
  };
  const drop = (reason: string): void => {
    if (closed) return;
    finish();
    // The reason goes last; a client that never reads will not see it, and its socket is destroyed soon after.
    res.end(`event: dropped\ndata: ${JSON.stringify({ reason, lastId: last })}\n\n`);
    setTimeout(() => res.destroy(), 1_000).unref();
  };
  /** Writes one live event; a subscriber whose unsent bytes passed the bound is dropped instead. */
  const write = (e: ClusterEvent): void => {
    if (closed || e.seq <= last) return;
    if (res.writableLength > o.maxBufferedBytes) return drop(`slow subscriber: more than ${o.maxBufferedBytes} bytes unsent; reconnect with since=${last}`);
    last = e.seq;
    res.write(frameOf(e));
  };
  const off = source.subscribeEvents((e) => {
    if (live) write(e);
  });
  const keepAlive = setInterval(() => {
    if (res.writableLength > o.maxBufferedBytes) drop(`slow subscriber: more than ${o.maxBufferedBytes} bytes unsent`);
    else res.write(': keep-alive\n\n');
  }, o.keepAliveMs);
  keepAlive.unref();
  req.on('close', finish);
  res.on('close', finish);

  // The replay, one page at a time; when the socket holds more than the bound, wait for it to drain first.
  const page = (): void => {
    if (closed) return;
    const events = source.eventsSince(last, o.pageSize);
    let i = 0;
    for (; i < events.length && res.writableLength <= o.maxBufferedBytes; i++) {
      last = events[i]!.seq;
      res.write(frameOf(events[i]!));
    }
    if (i === events.length && events.length < o.pageSize) {
      live = true; // synchronous with the last read: no event falls between the replay and the live stream
      return;
    }
    if (res.writableLength <= o.maxBufferedBytes) return enqueuePage(page);
    stall = setTimeout(() => drop(`slow subscriber: the replay did not drain within ${o.stallMs} ms; reconnect with since=${last}`), o.stallMs);
    res.once('drain', () => {
      if (stall) clearTimeout(stall);
      enqueuePage(page);
    });
  };
  enqueuePage(page);
}

/**
 * The plain JSON form of `GET /v1/events` (a list, not a stream): the events
 * after `since` up to `until` (the end of the log when asked), at most
 * `limit`, written as one JSON array in pages read from the store — never
 * built whole. A page is written only once the socket drained the last one
 * (`res.write` returned true), so a client that does not read holds about
 * one page and the socket's buffer in the manager, not the whole list; one
 * that has not drained within `stallMs` has its response destroyed.
 */
export function sendEventList(source: Pick<EventSource, 'eventsSince'>, res: ServerResponse, since: number, limit: number, until: number, options: EventStreamOptions = {}): void {
  const o = { ...EVENT_STREAM_DEFAULTS, ...options };
  res.writeHead(200, { 'content-type': 'application/json' });
  let last = since;
  let left = limit;
  let first = true;
  let closed = false;
  let stall: NodeJS.Timeout | undefined;
  res.on('close', () => {
    closed = true;
    if (stall) clearTimeout(stall);
  });
  const page = (): void => {
    if (closed) return;
    let events: ClusterEvent[];
    try {
      events = left > 0 && last < until ? source.eventsSince(last, Math.min(o.pageSize, left)).filter((e) => e.seq <= until) : [];
    } catch {
      res.destroy(); // the status is sent: a truncated body is how the client learns
      return;
    }
    if (events.length === 0) {
      res.end(first ? '[]' : ']');
      return;
    }
    let chunk = first ? '[' : ',';
    chunk += events.map((e) => JSON.stringify(e)).join(',');
    first = false;
    last = events[events.length - 1]!.seq;
    left -= events.length;
    if (res.write(chunk)) return enqueuePage(page);
    stall = setTimeout(() => res.destroy(), o.stallMs);
    res.once('drain', () => {
      if (stall) clearTimeout(stall);
      enqueuePage(page);
    });
  };
  enqueuePage(page);
}
