/**
 * A full disk under the store, seen from the HTTP API: a write that fails with
 * SQLITE_FULL or ENOSPC becomes GOAT_ERR_DISK_FULL (507, temporary, nothing
 * written), and `/readyz` answers 503 with that code until a write succeeds
 * again — it probes with a tiny one each time it is asked — so the manager
 * recovers by itself once space returns.
 */
import { GoatError } from '../lib/errors.js';

/** True when `err` (or its cause) says the disk is full. */
export function isDiskFull(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'GOAT_ERR_DISK_FULL') return true;
  }
  return false;
}

/** The GoatError for a write refused by a full disk. */
export function diskFullError(cause: unknown): GoatError {
  return new GoatError('GOAT_ERR_DISK_FULL', 'the disk under the manager\'s store is full: nothing was written; retry once space is freed', { temporary: true, cause, details: {} });
}

/** Whether the disk was full at the last write, and the probe that clears it. */
export class DiskFullState {
  #full = false;

  constructor(private readonly probe: (() => void | Promise<void>) | undefined) {}

  /** A write failed on a full disk. */
  failed(): void {
    this.#full = true;
  }

  /** A write succeeded. */
  succeeded(): void {
    this.#full = false;
  }

  /** The error `/readyz` reports, or undefined; while full, a probe write is tried first. */
  async check(): Promise<GoatError | undefined> {
    if (!this.#full) return undefined;
    try {
      await this.probe?.();
      if (this.probe) this.#full = false;
    } catch (err) {
      if (!isDiskFull(err)) throw err;
    }
    return this.#full ? diskFullError(undefined) : undefined;
  }
}
