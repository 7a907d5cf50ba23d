/**
 * `GET /v1/tasks/:id/logs` and `GET /v1/services/:name/logs`
 * (`?follow=1&tail=N&since=10m|ISO|ms&timestamps=1`): the events as they
 * come, streamed with chunked encoding — one JSON object per line
 * (`application/x-ndjson`, the default), `text/event-stream` when asked for
 * (`event: line|dropped|error`), or the CLI's text when `Accept: text/plain`.
 * Lines are written only as fast as the client reads them: the response's
 * own backpressure stops the reading, and the log stream's credit with it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GoatError, isGoatError } from '../lib/errors.js';
import { formatLogEvent, parseSince, type LogEvent, type LogEventStream, type LogReadOptions } from '../lib/logs/index.js';

/** A write to the response holds at most about this much text (bytes, roughly) … */
const BATCH_BYTES = 64 * 1024;
/** … taken from the stream this many events at a time. */
const BATCH_EVENTS = 1_000;

/** Reads the query of a logs request; GOAT_ERR_INVALID_SPEC (400) naming a bad field. */
export function logQuery(q: URLSearchParams): LogReadOptions & { timestamps: boolean } {
  const flag = (k: string): boolean => ['1', 'true', 'yes'].includes((q.get(k) ?? '').toLowerCase());
  const out: LogReadOptions & { timestamps: boolean } = { follow: flag('follow'), timestamps: flag('timestamps') };
  const tail = q.get('tail');
  if (tail !== null && tail !== '' && tail !== 'all') {
    const n = Number(tail);
    if (!Number.isInteger(n) || n < 0) throw new GoatError('GOAT_ERR_INVALID_SPEC', 'invalid query: tail: a whole number >= 0 (or all)', { details: { field: 'tail' } });
    out.tail = n;
  }
  const since = q.get('since');
  if (since !== null && since !== '') {
    try {
      out.since = parseSince(since);
    } catch (err) {
      throw new GoatError('GOAT_ERR_INVALID_SPEC', `invalid query: since: ${(err as Error).message.replace(/^--since /, '')}`, { details: { field: 'since' } });
    }
  }
  return out;
}

/** Streams `events` to the response in the format the request asks for; resolves when done or when the client left. */
export async function sendLogs(events: LogEventStream, req: IncomingMessage, res: ServerResponse, o: { prefix: boolean; timestamps: boolean }): Promise<void> {
  const accept = req.headers.accept ?? '';
  const kind = accept.includes('text/event-stream') ? 'sse' : accept.includes('text/plain') ? 'text' : 'ndjson';
  res.writeHead(200, {
    'content-type': kind === 'sse' ? 'text/event-stream' : kind === 'text' ? 'text/plain; charset=utf-8' : 'application/x-ndjson',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  let gone = false;
  const leave = (): void => {
    gone = true;
    void events.return?.();
  };
  res.on('close', leave);
  const encode = (e: LogEvent): string => {
    if (kind === 'text') return formatLogEvent(e, o);
    // The common case written out: what JSON.stringify(e) gives, without walking the object.
    if (kind === 'ndjson' && e.type === 'line') return `{"type":"line","task":${JSON.stringify(e.task)},"stream":"${e.stream}","at":${e.at},"text":${JSON.stringify(e.text)}}\n`;
    const json = JSON.stringify(e);
    return kind === 'sse' ? `event: ${e.type}\ndata: ${json}\n\n` : `${json}\n`;
  };
  try {
    let batch = '';
    const flush = async (): Promise<void> => {
      if (!batch || gone) return;
      const ok = res.write(batch);
      batch = '';
      if (!ok) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        });
      }
    };
    const ready = events.takeReady?.bind(events);
    for (;;) {
      if (ready) {
        // One task's stream: wait for an event, then take what else has arrived, and write it all at once.
        const r = await events.next();
        if (r.done || gone) break;
        batch += encode(r.value);
        for (let more = ready(BATCH_EVENTS); more.length > 0 && batch.length < BATCH_BYTES; more = ready(BATCH_EVENTS)) {
          for (const e of more) batch += encode(e);
        }
        await flush();
        continue;
      }
      // Batches what is already there into one write; waits only when nothing is.
      const next = events.next();
      const r = batch ? await Promise.race([next, Promise.resolve(null)]) : await next;
      if (r === null) {
        await flush();
        const later = await next;
        if (later.done) break;
        batch += encode(later.value);
        continue;
      }
      if (r.done) break;
      batch += encode(r.value);
      if (batch.length >= BATCH_BYTES) await flush();
      if (gone) break;
    }
    await flush();
  } catch (err) {
    if (!gone) res.write(encode({ type: 'error', task: '', code: isGoatError(err) ? err.code : 'GOAT_ERR_INTERNAL', message: err instanceof Error ? err.message : String(err) }));
  } finally {
    res.off('close', leave);
    if (!gone) res.end();
  }
}
