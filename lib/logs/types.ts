/** The line model shared by the runtimes, the link and the surfaces. */

/** Which output a line came from. */
export type LogStreamName = 'stdout' | 'stderr';

/** One line a task wrote. */
export interface LogLine {
  stream: LogStreamName;
  /** When it was written, ms since the epoch (Docker: the engine's stamp; process runtime: within a second, see README). */
  at: number;
  /** The text, without its newline. */
  text: string;
}

/** What to read. */
export interface LogReadOptions {
  /** Only the last N lines of what exists now (per output). @default all */
  tail?: number;
  /** Only lines from this time on (ms since the epoch). */
  since?: number;
  /** Keep reading new lines until the task ends or the reader is closed. @default false */
  follow?: boolean;
}

/** A read in progress: batches of lines, oldest first; pulling is what reads more (a reader that is not pulled reads nothing). */
export interface LogReader extends AsyncIterable<LogLine[]> {
  /** Stops reading and releases files and streams. */
  close(): void;
}

/** What a log stream delivers to its consumer (HTTP, CLI, library): lines, notices of dropped lines, errors. */
export type LogEvent =
  | { type: 'line'; task: string; stream: LogStreamName; at: number; text: string }
  | { type: 'dropped'; task: string; count: number }
  | { type: 'error'; task: string; code: string; message: string; details?: Record<string, unknown> };

/** Log events as they come, which can also hand over at once the events that have already arrived (a consumer then writes them together). */
export interface LogEventStream extends AsyncIterableIterator<LogEvent> {
  /** Up to `max` events that have arrived and were not read yet, without waiting (none when nothing waits). */
  takeReady?(max: number): LogEvent[];
}
