/**
 * Docker's log stream format: without a TTY, every chunk of output comes in a
 * frame with an 8-byte header (stream id, 3 zero bytes, big-endian length).
 * Splitting it into stdout and stderr text is pure and tested without an engine.
 */
import { lastLines } from './log-tail.js';
import type { LogTail } from './types.js';

/** Splits a multiplexed Docker log buffer into stdout and stderr text; unframed input counts as stdout. */
export function demuxDockerLogs(buffer: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer[offset];
    const framed = (stream === 0 || stream === 1 || stream === 2) && buffer[offset + 1] === 0 && buffer[offset + 2] === 0 && buffer[offset + 3] === 0;
    if (!framed) break;
    const size = buffer.readUInt32BE(offset + 4);
    const payload = buffer.subarray(offset + 8, offset + 8 + size);
    (stream === 2 ? err : out).push(payload);
    offset += 8 + size;
  }
  if (offset < buffer.length) out.push(buffer.subarray(offset)); // a TTY container or a torn frame
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** The last `lines` lines of each stream in a multiplexed Docker log buffer. */
export function dockerLogTail(buffer: Buffer, lines: number): LogTail {
  const { stdout, stderr } = demuxDockerLogs(buffer);
  return { stdout: lastLines(stdout, lines), stderr: lastLines(stderr, lines) };
}

/** Both streams of a tail as one list (stdout first, then stderr), for {@link ExitInfo.logTail}. */
export function mergeTail(tail: LogTail, lines: number): string[] {
  return [...tail.stdout, ...tail.stderr].slice(-lines);
}
