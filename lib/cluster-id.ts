/**
 * Cluster identity (issue 11). A store has a cluster id, made once when the
 * store is first opened and kept in it (SQLite or etcd: the store's meta).
 * A worker remembers the id of the cluster it joined (`<dataDir>/cluster-id`)
 * and says it in its hello. A manager whose store has another id — a new data
 * dir, a store emptied or replaced — refuses such a worker (it never stops its
 * tasks) until a person adopts the node (`goat-cluster adopt NODE`).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file.js';
import { GoatError } from './errors.js';
import { join } from 'node:path';

/** The store meta key of the cluster id. */
export const CLUSTER_ID_KEY = 'clusterId';

/** A new cluster id: `c-` and 16 hex digits. */
export function newClusterId(): string {
  return `c-${randomBytes(8).toString('hex')}`;
}

/** What a manager does with a worker's hello. */
export type Admission = 'admit' | 'adopt' | 'refuse';

/**
 * Pure: a worker that knows no cluster yet (first join, or from before cluster
 * ids) or knows this one is admitted; one of another cluster is adopted when a
 * person asked for it, else refused.
 */
export function admission(storeId: string, workerId: string | undefined, adoptRequested: boolean): Admission {
  if (workerId === undefined || workerId === storeId) return 'admit';
  return adoptRequested ? 'adopt' : 'refuse';
}

/** The cluster id a worker remembers, on disk (written atomically). */
export class ClusterIdFile {
  #id: string | undefined;
  #writing: Promise<void> = Promise.resolve();

  private constructor(readonly file: string, id: string | undefined) {
    this.#id = id;
  }

  /**
   * Reads `<dir>/cluster-id` (none when missing). A file that exists but holds
   * no valid id (garbage, empty, unreadable) is GOAT_ERR_STORE_CORRUPT naming
   * the file and how to recover, and is left untouched: read as "no cluster",
   * any manager would admit the worker, and a fresh one would stop its tasks.
   */
  static async load(dir: string): Promise<ClusterIdFile> {
    const file = join(dir, 'cluster-id');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new ClusterIdFile(file, undefined); // not joined to any cluster yet
      throw damaged(file, `unreadable: ${(err as Error).message}`);
    }
    const id = text.trim();
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(id)) throw damaged(file, id === '' ? 'empty' : 'not a cluster id');
    return new ClusterIdFile(file, id);
  }

  /** The remembered id, if any. */
  get id(): string | undefined {
    return this.#id;
  }

  /** Remembers `id` (a welcome's); resolves once it is on disk. */
  set(id: string): Promise<void> {
    if (id === this.#id) return this.#writing;
    this.#id = id;
    this.#writing = this.#writing.then(() => this.#write(id));
    return this.#writing;
  }

  async #write(id: string): Promise<void> {
    if (id !== this.#id) return; // a later one is queued
    await writeFileAtomic(this.file, `${id}\n`);
  }
}

function damaged(file: string, reason: string): GoatError {
  return new GoatError(
    'GOAT_ERR_STORE_CORRUPT',
    `cluster id file ${file} is damaged (${reason}); refusing to start on it, the file is left as it is. `
      + 'Restore it from a backup (it holds one line, the cluster id the worker joined, e.g. c-0123456789abcdef), '
      + 'or move it aside to join as a worker of no cluster (any manager then admits it, and one with a new store would stop its tasks).',
    { details: { file, reason } },
  );
}
