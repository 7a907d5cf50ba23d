/**
 * Link frames of log streams (a part of transport/frames.ts, kept apart).
 *
 * Manager → worker: `logs_open` (stream id, task, generation, tail, since,
 * follow, initial credit in lines), `logs_credit` (more lines may be sent),
 * `logs_cancel`. Worker → manager: `logs_data` (lines, each with its stream
 * and time; `dropped`: lines lost since the last frame because the reader
 * was too slow), `logs_end` (why the stream ended). The worker never sends
 * more lines than the credit it was given: a reader that stops reading stops
 * the credit, and the worker's bounded buffer then drops (and counts) lines.
 */
import { z } from 'zod';

const id = z.string().min(1).max(256);
const count = z.number().int().min(0);

/** One line as it travels: `s` stream (`o` stdout, `e` stderr), `t` ms since the epoch, `x` text (without its newline). */
export const wireLogLine = z.strictObject({ s: z.enum(['o', 'e']), t: z.number().finite().min(0), x: z.string().max(65_536) });

/** The body schemas of the log frames. */
export const LOG_BODY_SCHEMAS = {
  logs_open: z.strictObject({
    streamId: id,
    taskId: id,
    generation: count,
    /** Only the last N lines of what exists (per stream). */
    tail: count.optional(),
    /** Only lines from this time on (ms since the epoch). */
    since: z.number().finite().min(0).optional(),
    follow: z.boolean(),
    /** Lines the worker may send before more credit comes. */
    credit: z.number().int().min(1).max(100_000),
  }),
  logs_credit: z.strictObject({ streamId: id, lines: z.number().int().min(1).max(100_000) }),
  logs_cancel: z.strictObject({ streamId: id }),
  logs_data: z.strictObject({ streamId: id, lines: z.array(wireLogLine).max(100_000), dropped: count.optional() }),
  logs_end: z.strictObject({
    streamId: id,
    /** `ended`: all was read (not following) or the task ended; `error`: see `code` and `message`. */
    reason: z.enum(['ended', 'cancelled', 'error']),
    code: z.string().max(128).optional(),
    message: z.string().max(4096).optional(),
    dropped: count.optional(),
  }),
} as const;
