/**
 * A bounded buffer of lines: at most `maxLines` lines and `maxBytes` of text;
 * past either, the oldest lines are dropped and counted. What a log stream
 * holds while its reader does not keep up — the buffer, not the memory, is
 * what a stalled reader costs.
 */
import type { LogLine } from './types.js';

/** A FIFO of lines that drops its oldest past its bounds, counting them. */
export class BoundedLines {
  #lines: LogLine[] = [];
  #head = 0;
  #bytes = 0;
  #dropped = 0;

  constructor(
    readonly maxLines = 5_000,
    readonly maxBytes = 4 * 1024 * 1024,
  ) {}

  /** Lines held. */
  get size(): number {
    return this.#lines.length - this.#head;
  }

  /** Bytes of text held (UTF-16 length, close enough for a bound). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends lines, dropping the oldest when over a bound. */
  push(lines: LogLine[]): void {
    for (const l of lines) {
      this.#lines.push(l);
      this.#bytes += l.text.length;
    }
    while (this.size > 0 && (this.size > this.maxLines || this.#bytes > this.maxBytes)) {
      this.#bytes -= this.#lines[this.#head]!.text.length;
      this.#head++;
      this.#dropped++;
    }
    this.#compact();
  }

  /** Takes up to `n` lines, oldest first, stopping once `maxBytes` of text are taken (at least one line). */
  take(n: number, maxBytes = Infinity): LogLine[] {
    let end = this.#head;
    let bytes = 0;
    const stop = Math.min(this.#lines.length, this.#head + n);
    while (end < stop && (end === this.#head || bytes + this.#lines[end]!.text.length <= maxBytes)) bytes += this.#lines[end++]!.text.length;
    const out = this.#lines.slice(this.#head, end);
    this.#head = end;
    this.#bytes -= bytes;
    this.#compact();
    return out;
  }

  /** Lines dropped since the last call (and resets the count). */
  takeDropped(): number {
    const d = this.#dropped;
    this.#dropped = 0;
    return d;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#lines.length) {
      this.#lines = this.#lines.slice(this.#head);
      this.#head = 0;
    }
  }
}
