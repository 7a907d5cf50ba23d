/** How log options are written on a command line and how log events are shown. */
import { GoatError } from '../errors.js';
import type { LogEvent } from './types.js';

/**
 * `--since`: a duration back from `now` (`90s`, `10m`, `2h`, `1d`), an ISO
 * time, or ms since the epoch. Anything else is GOAT_ERR_USAGE.
 */
export function parseSince(value: string, now = Date.now()): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
  if (m) return Math.round(now - Number(m[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms']);
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  if (Number.isFinite(at) && /^\d{4}-\d\d-\d\d/.test(value)) return at;
  throw new GoatError('GOAT_ERR_USAGE', `--since wants a duration (90s, 10m, 2h, 1d), an ISO time or ms since the epoch, got '${value}'`, { details: { field: 'since' } });
}

/** Options of {@link formatLogEvent}. */
export interface FormatOptions {
  /** Prefix each line with its task id (a service's logs). */
  prefix?: boolean;
  /** Prefix each line with its time (ISO). */
  timestamps?: boolean;
  /** Width the task ids are padded to. */
  width?: number;
}

/**
 * One event as a line of text: `[TIME ][TASK  ]out | TEXT` for stdout and
 * `… err | TEXT` for stderr, so both stay apart in one stream; dropped lines
 * and errors are `[goat] …` notices.
 */
export function formatLogEvent(e: LogEvent, o: FormatOptions = {}): string {
  const who = o.prefix ? `${e.task.padEnd(o.width ?? 0)}  ` : '';
  switch (e.type) {
    case 'line':
      return `${o.timestamps ? `${new Date(e.at).toISOString()} ` : ''}${who}${e.stream === 'stderr' ? 'err' : 'out'} | ${e.text}\n`;
    case 'dropped':
      return `${who}[goat] ${e.count} line(s) dropped: the reader did not keep up\n`;
    case 'error':
      return `${who}[goat] ${e.message} (${e.code})\n`;
  }
}
