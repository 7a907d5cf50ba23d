/**
 * The worker's own durable state, one JSON file in its data dir: a stable
 * node id, the tasks assigned to it (so a restarted worker re-adopts them
 * with their restart policy and health check), and the command ids it has
 * applied (so a retried command is applied at most once). Written atomically
 * (temp file, fsync, rename).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-file.js';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { GoatError } from '../errors.js';
import type { TaskSpec } from '../model/index.js';

/** One task this worker must run. */
export interface Assignment {
  taskId: string;
  service: string;
  slot: number;
  generation: number;
  spec: TaskSpec;
}

interface FileShape {
  version: 1;
  nodeId: string;
  name: string;
  assignments: Assignment[];
  applied: string[];
}

/** Why `text` is not a worker state file, or undefined when it is one. */
function problemOf(raw: unknown): string | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'not a JSON object';
  const d = raw as Partial<FileShape>;
  if (d.version !== 1) return `version: expected 1, got ${JSON.stringify(d.version) ?? 'nothing'}`;
  if (typeof d.nodeId !== 'string' || d.nodeId === '') return 'nodeId: missing';
  if (typeof d.name !== 'string' || d.name === '') return 'name: missing';
  if (!Array.isArray(d.assignments)) return 'assignments: not a list';
  const bad = d.assignments.findIndex((a: Partial<Assignment> | null) => a === null || typeof a !== 'object' || typeof a.taskId !== 'string' || typeof a.service !== 'string'
    || !Number.isInteger(a.slot) || !Number.isInteger(a.generation) || a.spec === null || typeof a.spec !== 'object');
  if (bad >= 0) return `assignments.${bad}: not an assignment`;
  if (!Array.isArray(d.applied) || d.applied.some((k) => typeof k !== 'string')) return 'applied: not a list of strings';
  return undefined;
}

/**
 * Reads a worker state file, or throws GOAT_ERR_STORE_CORRUPT naming the file
 * and how to recover. The file is never rewritten when it is refused.
 */
function parseStateFile(file: string, text: string): FileShape {
  let raw: unknown;
  let problem: string | undefined;
  try {
    raw = JSON.parse(text);
    problem = problemOf(raw);
  } catch {
    problem = text.trim() === '' ? 'empty' : 'not JSON';
  }
  if (problem === undefined) return raw as FileShape;
  throw new GoatError(
    'GOAT_ERR_STORE_CORRUPT',
    `worker state ${file} is damaged (${problem}); refusing to start on it, the file is left as it is. `
      + 'Restore it from a backup, or move it aside to start this worker as a new node (the manager then re-places the old node\'s tasks; '
      + 'stop what still runs from the old record by hand).',
    { details: { file, reason: problem } },
  );
}

/** How many applied command ids are remembered (oldest forgotten first). */
export const APPLIED_LIMIT = 10_000;

/** The worker state file. */
export class WorkerState {
  private constructor(
    private readonly file: string,
    private data: FileShape,
    /** Where an in-memory state keeps its durable copy ({@link WorkerState.inMemory}); files otherwise. */
    private readonly memory?: { json?: string },
  ) {}

  /**
   * A state kept in `saved.json` instead of a file (the deterministic
   * simulation: `saved` outlives the worker, as its data dir would).
   */
  static inMemory(saved: { json?: string }, nodeId: string, name?: string): WorkerState {
    const data: FileShape = saved.json === undefined
      ? { version: 1, nodeId, name: name ?? nodeId, assignments: [], applied: [] }
      : (JSON.parse(saved.json) as FileShape);
    saved.json = JSON.stringify(data);
    return new WorkerState('', data, saved);
  }

  /** Opens (or creates) `<dataDir>/worker.json`; a new file gets a fresh node id. */
  static async open(dataDir: string, name?: string): Promise<WorkerState> {
    await mkdir(dataDir, { recursive: true });
    const file = join(dataDir, 'worker.json');
    let data: FileShape;
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text === undefined) {
      const nodeId = `node-${nanoid(10)}`;
      data = { version: 1, nodeId, name: name ?? nodeId, assignments: [], applied: [] };
    } else {
      data = parseStateFile(file, text); // a bad file is refused before anything writes to it
    }
    if (name && name !== data.name) data.name = name;
    const state = new WorkerState(file, data);
    await state.save();
    return state;
  }

  get nodeId(): string {
    return this.data.nodeId;
  }

  get name(): string {
    return this.data.name;
  }

  /** The tasks to run, in assignment order. */
  assignments(): Assignment[] {
    return [...this.data.assignments];
  }

  /** True when this (task, generation) or command id was applied already. */
  wasApplied(key: string): boolean {
    return this.data.applied.includes(key);
  }

  /** Records an assignment and the keys that identify its command; durable when this resolves, unchanged if it rejects. */
  assign(a: Assignment, keys: string[]): Promise<void> {
    return this.update((d) => ({
      ...d,
      assignments: [...d.assignments.filter((x) => x.taskId !== a.taskId), a],
      applied: [...d.applied, ...keys].slice(-APPLIED_LIMIT),
    }));
  }

  /** Forgets an assignment (the task was stopped on purpose); durable when this resolves. */
  unassign(taskId: string, keys: string[] = []): Promise<void> {
    return this.update((d) => ({
      ...d,
      assignments: d.assignments.filter((x) => x.taskId !== taskId),
      applied: [...d.applied, ...keys].slice(-APPLIED_LIMIT),
    }));
  }

  private saving: Promise<void> = Promise.resolve();

  /** Applies `change` after every earlier one, writes it, and only then makes it the current state. */
  private update(change: (d: FileShape) => FileShape): Promise<void> {
    const run = this.saving.then(async () => {
      const next = change(this.data);
      await this.write(next);
      this.data = next;
    });
    this.saving = run.catch(() => undefined);
    return run;
  }

  private save(): Promise<void> {
    return this.update((d) => d);
  }

  private async write(data: FileShape): Promise<void> {
    if (this.memory) {
      this.memory.json = JSON.stringify(data);
      return;
    }
    await writeFileAtomic(this.file, JSON.stringify(data, null, 2), 0o600);
  }
}
