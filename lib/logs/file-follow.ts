/**
 * A process task's logs from its files: `stdout.log` and `stderr.log` with
 * their rotated copies (`.1`, `.2`, …, oldest last) and time checkpoints
 * (see rotate.ts). {@link readLogFiles} reads what exists; {@link followLogFiles}
 * then keeps reading what is appended — noticing a rotation (the file got
 * shorter) and reading the rest of the old content from `.1` first — until
 * the task is not alive any more or the reader is closed.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LogLine, LogReadOptions, LogReader, LogStreamName } from './types.js';

/** A task's log files: `dir/stdout.log`, `dir/stderr.log`. */
export interface LogFiles {
  stdout: string;
  stderr: string;
  /** Files kept per output (as rotated). @default 3 */
  maxFiles?: number;
}

/** Largest read while following, in bytes. */
const READ_CHUNK = 256 * 1024;

/**
 * Lines of one file from byte `from` on (a line cut by `from` is left out),
 * with the time each was written (from checkpoints; after the last one, the
 * file's mtime).
 */
async function linesOf(file: string, stream: LogStreamName, from = 0): Promise<LogLine[]> {
  let buffer: Buffer;
  let mtime: number;
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return [];
  }
  try {
    const st = await handle.stat();
    mtime = st.mtimeMs;
    buffer = Buffer.alloc(Math.max(0, st.size - from));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    buffer = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  let offset = from;
  if (from > 0) {
    const nl = buffer.indexOf(0x0a);
    if (nl < 0) return [];
    offset += nl + 1;
    buffer = buffer.subarray(nl + 1);
  }
  const marks = (await readFile(`${file}.idx`, 'utf8').catch(() => ''))
    .split('\n').map((l) => l.split(' ').map(Number)).filter((p) => p.length === 2 && p.every(Number.isFinite)) as [number, number][];
  const out: LogLine[] = [];
  let m = 0;
  const parts = buffer.toString('utf8').split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  for (const part of parts) {
    offset += Buffer.byteLength(part) + 1;
    while (m < marks.length && marks[m]![0] < offset - 1) m++;
    out.push({ stream, at: Math.round(marks[m]?.[1] ?? mtime), text: part });
  }
  return out;
}

/** First look at the end of a file when only its last lines are wanted; grown ×4 while too few. */
const TAIL_WINDOW = 64 * 1024;

/**
 * The last `want` lines of one file at or after `since`, reading only as much
 * of its end as they need. `older` is true when a line before `since` was
 * seen (so older files need not be read).
 */
async function lastLinesOf(file: string, stream: LogStreamName, want: number, since: number | undefined): Promise<{ lines: LogLine[]; older: boolean }> {
  const size = await sizeOf(file);
  for (let window = TAIL_WINDOW; ; window *= 4) {
    const from = Math.max(0, size - window);
    const all = await linesOf(file, stream, from);
    const kept = since === undefined ? all : all.filter((l) => l.at >= since);
    const older = kept.length < all.length;
    if (kept.length >= want || older || from === 0) return { lines: kept.slice(-want), older };
  }
}

/** The files of one output, oldest first. */
function chain(file: string, maxFiles: number): string[] {
  const files = [];
  for (let i = maxFiles - 1; i >= 1; i--) files.push(`${file}.${i}`);
  files.push(file);
  return files;
}

/**
 * What exists now, both outputs merged by time, after `since` and cut to the
 * last `tail` lines (as `docker logs --tail`). With `tail` or `since`, files
 * are read from their ends, newest first, only as far back as needed.
 */
export async function readLogFiles(files: LogFiles, options: LogReadOptions = {}): Promise<LogLine[]> {
  if (options.tail === 0) return [];
  const want = options.tail ?? Infinity;
  const perStream = await Promise.all((['stdout', 'stderr'] as const).map(async (stream) => {
    const newestFirst = chain(files[stream], files.maxFiles ?? 3).reverse();
    if (want === Infinity && options.since === undefined) return (await Promise.all(chain(files[stream], files.maxFiles ?? 3).map((f) => linesOf(f, stream)))).flat();
    let lines: LogLine[] = [];
    for (const file of newestFirst) {
      const r = await lastLinesOf(file, stream, want - lines.length, options.since);
      lines = [...r.lines, ...lines];
      if (lines.length >= want || r.older) break;
    }
    return lines;
  }));
  const merged = mergeByTime(perStream[0]!, perStream[1]!);
  return options.tail === undefined ? merged : merged.slice(-options.tail);
}

function mergeByTime(a: LogLine[], b: LogLine[]): LogLine[] {
  const out: LogLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) out.push(j >= b.length || (i < a.length && a[i]!.at <= b[j]!.at) ? a[i++]! : b[j++]!);
  return out;
}

/** Where a follower is in one output. */
interface Cursor {
  stream: LogStreamName;
  file: string;
  pos: number;
  partial: string;
}

/**
 * Reads what exists (as {@link readLogFiles}), then, with `follow`, what is
 * appended, until `alive()` says no (after a last read) or the reader is
 * closed. Lines appended while following get the time they were read.
 */
export function followLogFiles(files: LogFiles, options: LogReadOptions, alive: () => Promise<boolean>, pollMs = 200): LogReader {
  let closed = false;
  let wake: (() => void) | null = null;
  let watcher: FSWatcher | null = null;
  let first = true;
  let cursors: Cursor[] = [];
  const start = async (): Promise<LogLine[]> => {
    // Positions first, then the history: a line appended in between is read twice rather than lost.
    cursors = await Promise.all((['stdout', 'stderr'] as const).map(async (stream) => ({ stream, file: files[stream], pos: await sizeOf(files[stream]), partial: '' })));
    const history = await readLogFiles(files, options);
    if (options.follow) {
      try {
        watcher = watch(dirname(files.stdout), () => wake?.());
        watcher.on('error', () => undefined);
      } catch {
        watcher = null; // polling alone
      }
    }
    return history;
  };
  const readNew = async (): Promise<LogLine[]> => {
    const out: LogLine[] = [];
    for (const c of cursors) {
      const size = await sizeOf(c.file);
      if (size < c.pos) {
        // Rotated: the rest of what we had not read is at the end of `.1`.
        out.push(...split(c, await readRange(`${c.file}.1`, c.pos, Infinity)));
        c.pos = 0;
      }
      if (size > c.pos) {
        const text = await readRange(c.file, c.pos, Math.min(size, c.pos + READ_CHUNK));
        c.pos += Buffer.byteLength(text);
        out.push(...split(c, text));
      }
    }
    return out;
  };
  const reader: LogReader = {
    close() {
      closed = true;
      watcher?.close();
      wake?.();
    },
    [Symbol.asyncIterator]() {
      return {
        next: async (): Promise<IteratorResult<LogLine[]>> => {
          if (first) {
            first = false;
            const history = await start();
            if (history.length > 0 || !options.follow) {
              if (!options.follow) reader.close();
              return { done: false, value: history };
            }
          }
          while (!closed) {
            const lines = await readNew();
            if (lines.length > 0) return { done: false, value: lines };
            if (!(await alive())) {
              const last = await readNew();
              reader.close();
              const rest = cursors.flatMap((c) => (c.partial ? [{ stream: c.stream, at: Date.now(), text: c.partial }] : []));
              if (last.length + rest.length > 0) return { done: false, value: [...last, ...rest] };
              break;
            }
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, pollMs);
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            wake = null;
          }
          return { done: true, value: undefined };
        },
        return: async (): Promise<IteratorResult<LogLine[]>> => {
          reader.close();
          return { done: true, value: undefined };
        },
      };
    },
  };
  return reader;
}

function split(c: Cursor, text: string): LogLine[] {
  if (!text) return [];
  const parts = (c.partial + text).split('\n');
  c.partial = parts.pop() ?? '';
  const at = Date.now();
  return parts.map((t) => ({ stream: c.stream, at, text: t }));
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function readRange(file: string, from: number, to: number): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const end = Math.min(to, (await handle.stat()).size);
    if (end <= from) return '';
    const buffer = Buffer.alloc(end - from);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    // Whole UTF-8 characters only: a cut one is read again next time.
    let cut = bytesRead;
    for (let i = bytesRead - 1; i >= Math.max(0, bytesRead - 4); i--) {
      const b = buffer[i]!;
      if ((b & 0xc0) === 0x80) continue;
      const n = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      if (i + n > bytesRead) cut = i;
      break;
    }
    return buffer.toString('utf8', 0, cut);
  } finally {
    await handle.close();
  }
}
