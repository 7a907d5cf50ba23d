/**
 * The process runtime's state on disk: one folder per task instance,
 * `<dataDir>/tasks/<taskId>-g<generation>/`, holding `process.json` (identity,
 * pid, start time, exit) and the `stdout.log` / `stderr.log` of its runs. A new
 * runtime on the same data dir adopts live processes from these records.
 * Records are replaced atomically (write + rename) and updated synchronously,
 * so concurrent updates inside one worker never interleave.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GoatError } from '../errors.js';
import type { TaskIdentity } from './identity.js';
import { instanceKey } from './identity.js';
import type { PortMapping } from './types.js';

/** How a run ended, as recorded by the runtime that saw it (the process's parent). */
export interface RecordedExit {
  /** Exit code, or null when killed by a signal or unknown. */
  code: number | null;
  /** Killing signal, or null. */
  signal: string | null;
  /** ms since the epoch. */
  finishedAt: number;
}

/** `process.json`: one task instance's current (or last) run. */
export interface ProcessRecord extends TaskIdentity {
  /** Record format. */
  version: 1;
  /** The argv it runs. */
  command: string[];
  /** Its ports (host ports as bound). */
  ports: PortMapping[];
  /** Pid of the current run; also its process group id. */
  pid: number;
  /** /proc start time of `pid` in clock ticks since boot; null without /proc. */
  startTime: number | null;
  /** When the run started, ms since the epoch. */
  startedAt: number;
  /** Set when a runtime began stopping or removing it. */
  stopRequestedAt?: number;
  /** Set once the run ended. */
  exit?: RecordedExit;
}

/** Where the files of task instances live under a data dir. */
export class TaskFiles {
  /** `<dataDir>/tasks`. */
  readonly root: string;

  /** The layout under `dataDir`. */
  constructor(dataDir: string) {
    this.root = join(dataDir, 'tasks');
  }

  /** The instance's folder. */
  dir(taskId: string, generation: number): string {
    return join(this.root, instanceKey(taskId, generation));
  }

  /** Its `process.json`. */
  record(taskId: string, generation: number): string {
    return join(this.dir(taskId, generation), 'process.json');
  }

  /** The `process.json` in the instance folder called `name` (as {@link list} returns them). */
  recordIn(name: string): string {
    return join(this.root, name, 'process.json');
  }

  /** Its stdout log (appended across runs). */
  stdout(taskId: string, generation: number): string {
    return join(this.dir(taskId, generation), 'stdout.log');
  }

  /** Its stderr log (appended across runs). */
  stderr(taskId: string, generation: number): string {
    return join(this.dir(taskId, generation), 'stderr.log');
  }

  /** Names of the instance folders that exist. */
  async list(): Promise<string[]> {
    try {
      return (await readdir(this.root, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    } catch {
      return [];
    }
  }
}

/** Reads a record; undefined when the file does not exist. Throws `GOAT_ERR_RUNTIME` when it is unreadable. */
export function readRecord(file: string): ProcessRecord | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new GoatError('GOAT_ERR_RUNTIME', `cannot read ${file}: ${(err as Error).message}`, { details: { file }, cause: err });
  }
  try {
    const record = JSON.parse(text) as ProcessRecord;
    if (record.version !== 1 || !Number.isInteger(record.pid)) throw new Error('not a version 1 record');
    return record;
  } catch (err) {
    throw new GoatError('GOAT_ERR_RUNTIME', `corrupt process record ${file}: ${(err as Error).message}`, { details: { file }, cause: err });
  }
}

/** Replaces a record atomically (its folder is created if needed). */
export function writeRecord(file: string, record: ProcessRecord): void {
  mkdirSync(join(file, '..'), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(temp, file);
}

/** Merges `patch` into the record when it exists and still describes run `pid`; returns the result. */
export function updateRecord(file: string, pid: number, patch: Partial<ProcessRecord>): ProcessRecord | undefined {
  const record = readRecord(file);
  if (!record || record.pid !== pid) return record;
  const updated = { ...record, ...patch };
  writeRecord(file, updated);
  return updated;
}
