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

  /** Reads `<dir>/cluster-id` (none when missing). */
  static async load(dir: string): Promise<ClusterIdFile> {
    const file = join(dir, 'cluster-id');
    let id: string | undefined;
    try {
      const text = (await readFile(file, 'utf8')).trim();
      if (/^[A-Za-z0-9_.-]{1,128}$/.test(text)) id = text;
    } catch {
      // not joined to any cluster yet
    }
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
