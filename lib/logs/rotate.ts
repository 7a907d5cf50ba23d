/**
 * Size-based rotation of a process task's log files, with time checkpoints.
 *
 * A task process writes its output straight into `stdout.log` and
 * `stderr.log` (opened for appending, so it outlives the worker and is
 * adopted by the next one). The worker's {@link LogKeeper} looks at every
 * task folder once per `intervalMs`: when a file grew it appends a checkpoint
 * `<size> <time>` to `<file>.idx` (lines up to that size were written by that
 * time: that is how lines get their time, within an interval), and when a
 * file is over `maxBytes` it is rotated the way logrotate's `copytruncate`
 * does it: `.1` becomes `.2`, …, a copy becomes `.1`, and the file is cut to
 * zero (the process keeps appending to it). At most `maxFiles` files per
 * output exist, so a task's logs never hold more than about maxBytes ×
 * maxFiles per output. A line written between the copy and the cut is lost.
 */
import { appendFile, copyFile, readdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';

/** How big one log file may grow and how many are kept per output. */
export interface LogRotation {
  /** Rotate a log file once it is larger than this, in bytes. @default 10 MiB */
  maxBytes: number;
  /** Files kept per output, the current one included. @default 3 */
  maxFiles: number;
}

/** 10 MiB × 3, as Docker's json-file `max-size=10m`, `max-file=3`. */
export const LOG_ROTATION_DEFAULTS: LogRotation = { maxBytes: 10 * 1024 * 1024, maxFiles: 3 };

/** The log files of a task folder. */
export const LOG_FILES = ['stdout.log', 'stderr.log'] as const;

/** Rotates `file` (and its checkpoints) now: `.N-1` → dropped, …, `.1` → `.2`, a copy → `.1`, the file cut to zero. */
export async function rotateFile(file: string, maxFiles: number): Promise<void> {
  const keep = Math.max(1, maxFiles);
  for (const suffix of ['', '.idx']) {
    await rm(`${file}.${keep - 1}${suffix}`, { force: true });
    for (let i = keep - 2; i >= 1; i--) await rename(`${file}.${i}${suffix}`, `${file}.${i + 1}${suffix}`).catch(() => undefined);
  }
  if (keep === 1) {
    await truncate(file, 0);
    await rm(`${file}.idx`, { force: true });
    return;
  }
  await copyFile(file, `${file}.1`);
  await truncate(file, 0);
  await rename(`${file}.idx`, `${file}.1.idx`).catch(() => undefined);
}

/** Rotates and checkpoints the log files under a folder of task folders, on a timer. */
export class LogKeeper {
  readonly #sizes = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(
    /** The folder holding one folder per task instance. */
    readonly root: string,
    readonly rotation: LogRotation = LOG_ROTATION_DEFAULTS,
    readonly intervalMs = 1_000,
    readonly now: () => number = Date.now,
  ) {}

  /** Starts the timer (it does not keep the process alive). */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.pass(), this.intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One look at every file: checkpoint what grew, rotate what is too big. Never throws. */
  pass(): Promise<void> {
    this.#running ??= this.#pass().finally(() => (this.#running = null));
    return this.#running;
  }

  async #pass(): Promise<void> {
    let dirs: string[];
    try {
      dirs = await readdir(this.root);
    } catch {
      return;
    }
    const seen = new Set<string>();
    for (const dir of dirs) {
      for (const name of LOG_FILES) {
        const file = join(this.root, dir, name);
        seen.add(file);
        try {
          await this.#look(file);
        } catch {
          // gone meanwhile (the task was removed), or not a task folder
        }
      }
    }
    for (const file of this.#sizes.keys()) if (!seen.has(file)) this.#sizes.delete(file);
  }

  async #look(file: string): Promise<void> {
    const { size } = await stat(file);
    if (size !== this.#sizes.get(file) && size > 0) await appendFile(`${file}.idx`, `${size} ${this.now()}\n`);
    this.#sizes.set(file, size);
    if (size > this.rotation.maxBytes) {
      await rotateFile(file, this.rotation.maxFiles);
      this.#sizes.set(file, 0);
    }
  }
}
