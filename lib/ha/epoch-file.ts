/**
 * The highest leader epoch a worker has seen, kept on disk (`<dataDir>/epoch`)
 * so that after a restart it still refuses a deposed leader's commands.
 * Written atomically (temp file, fsync, rename); only ever raised.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-file.js';
import { join } from 'node:path';

/** The stored epoch of one worker. */
export class EpochFile {
  #epoch: number;
  #writing: Promise<void> = Promise.resolve();

  private constructor(readonly file: string, epoch: number) {
    this.#epoch = epoch;
  }

  /** Reads `<dir>/epoch` (0 when missing or unreadable). */
  static async load(dir: string): Promise<EpochFile> {
    const file = join(dir, 'epoch');
    let epoch = 0;
    try {
      const n = Number((await readFile(file, 'utf8')).trim());
      if (Number.isSafeInteger(n) && n >= 0) epoch = n;
    } catch {
      // no file yet
    }
    return new EpochFile(file, epoch);
  }

  /** The highest epoch stored. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Stores `epoch` when higher than the stored one; resolves once it is on disk. */
  raise(epoch: number): Promise<void> {
    if (epoch <= this.#epoch) return this.#writing;
    this.#epoch = epoch;
    this.#writing = this.#writing.then(() => this.#write(epoch));
    return this.#writing;
  }

  async #write(epoch: number): Promise<void> {
    if (epoch < this.#epoch) return; // a later raise is queued
    await writeFileAtomic(this.file, `${epoch}\n`);
  }
}
