/**
 * Docker's log stream (asked for with `timestamps: true`, or not), split into lines as
 * it arrives: chunks may cut frames and lines anywhere. Without a TTY every
 * frame has an 8-byte header (stream id, 3 zero bytes, big-endian length);
 * each line starts with the engine's RFC 3339 nano timestamp and a space.
 * The one splitter of Docker logs: followed streams, reads, and the last
 * lines kept with a task's exit all go through it. Pure: tested without an
 * engine.
 */
import type { LogLine, LogStreamName } from './types.js';

/** Longest line kept whole; longer ones are cut (the rest is its own line). */
const MAX_LINE = 64 * 1024;

/** Splits a Docker log byte stream into {@link LogLine}s. */
export class DockerLogSplitter {
  /**
   * @param stamped Whether the stream was asked for with `timestamps: true`
   *   (each line starts with the engine's time). Unstamped, every line gets
   *   the time its chunk arrived: a live follow (`docker logs -f` asks for no
   *   timestamps either) spares the engine formatting one per line, and a
   *   line that merely starts with a date keeps it as text.
   * @param now The clock of unstamped lines.
   */
  constructor(
    readonly stamped = true,
    readonly now: () => number = Date.now,
  ) {}

  #pending: Buffer = Buffer.alloc(0);
  /** When the chunk being split arrived (unstamped lines get it). */
  #arrived = 0;
  readonly #partial: Record<LogStreamName, string> = { stdout: '', stderr: '' };
  /** True when the stream is not framed (a TTY container): all of it is stdout. */
  #raw: boolean | undefined;

  /** Feeds a chunk; returns the complete lines it finished. */
  push(chunk: Buffer): LogLine[] {
    if (!this.stamped) this.#arrived = this.now();
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: LogLine[] = [];
    if (this.#raw === undefined && this.#pending.length >= 4) {
      const b = this.#pending;
      this.#raw = !((b[0] === 0 || b[0] === 1 || b[0] === 2) && b[1] === 0 && b[2] === 0 && b[3] === 0);
    }
    if (this.#raw === true) {
      this.#text('stdout', this.#pending.toString('utf8'), out);
      this.#pending = Buffer.alloc(0);
      return out;
    }
    let offset = 0;
    while (offset + 8 <= this.#pending.length) {
      const size = this.#pending.readUInt32BE(offset + 4);
      if (offset + 8 + size > this.#pending.length) break;
      const stream: LogStreamName = this.#pending[offset] === 2 ? 'stderr' : 'stdout';
      this.#text(stream, this.#pending.toString('utf8', offset + 8, offset + 8 + size), out);
      offset += 8 + size;
    }
    this.#pending = this.#pending.subarray(offset);
    return out;
  }

  /** The stream ended: what is left of unfinished lines. */
  end(): LogLine[] {
    const out: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.#partial[stream]) out.push(this.#line(stream, this.#partial[stream]));
      this.#partial[stream] = '';
    }
    return out;
  }

  #text(stream: LogStreamName, text: string, out: LogLine[]): void {
    let buffered = this.#partial[stream] + text;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      out.push(this.#line(stream, buffered.slice(0, nl)));
      buffered = buffered.slice(nl + 1);
    }
    while (buffered.length > MAX_LINE) {
      out.push(this.#line(stream, buffered.slice(0, MAX_LINE)));
      buffered = buffered.slice(MAX_LINE);
    }
    this.#partial[stream] = buffered;
  }

  #line(stream: LogStreamName, raw: string): LogLine {
    if (this.stamped) return stampedLine(stream, raw);
    return { stream, at: this.#arrived, text: raw.endsWith('\r') ? raw.slice(0, -1) : raw };
  }
}

/** Every line of a whole (not followed) Docker log buffer, unfinished last lines included. */
export function dockerLogLines(buffer: Buffer): LogLine[] {
  const splitter = new DockerLogSplitter();
  return [...splitter.push(buffer), ...splitter.end()];
}

/** The last `lines` lines of each stream, oldest first. */
export function tailByStream(all: readonly LogLine[], lines: number): { stdout: string[]; stderr: string[] } {
  const last = (stream: LogStreamName): string[] => (lines <= 0 ? [] : all.filter((l) => l.stream === stream).slice(-lines).map((l) => l.text));
  return { stdout: last('stdout'), stderr: last('stderr') };
}

/** A line as the engine sends it with `timestamps: true` (`2026-11-30T14:00:00.123456789Z text`); unstamped lines get now. */
export function stampedLine(stream: LogStreamName, raw: string): LogLine {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  const space = line.indexOf(' ');
  if (space >= 20 && space <= 40 && line[4] === '-' && line[10] === 'T') {
    const at = Date.parse(line.slice(0, space));
    if (Number.isFinite(at)) return { stream, at, text: line.slice(space + 1) };
  }
  return { stream, at: Date.now(), text: line };
}
