/**
 * Authentication of a link's upgrade request: the cluster token in
 * `Authorization: Bearer`, compared in constant time, and a per-address
 * throttle that slows down repeated failures.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../lib/supervision/index.js';

/**
 * True when `header` is `Bearer <token>` with exactly `expected`. Both sides
 * are hashed (SHA-256) first, so the comparison is constant-time and does not
 * leak the token's length.
 */
export function bearerMatches(expected: string, header: string | undefined): boolean {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  const given = match?.[1] ?? '';
  const same = timingSafeEqual(sha256(given), sha256(expected));
  return same && match !== null && expected.length > 0;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Settings of an {@link AuthThrottle}. */
export interface AuthThrottleOptions {
  /** Wait after the first recent failure, doubled per further failure, in ms. @default 50 */
  baseMs: number;
  /** Cap of that wait, in ms. @default 2000 */
  maxMs: number;
  /** The failure count of an address halves every `decayMs` without a new failure. @default 10000 */
  decayMs: number;
  /** Addresses remembered at most (the oldest are forgotten first). @default 10000 */
  maxAddresses: number;
}

/** Defaults of {@link AuthThrottleOptions}. */
export const AUTH_THROTTLE_DEFAULTS: AuthThrottleOptions = { baseMs: 50, maxMs: 2_000, decayMs: 10_000, maxAddresses: 10_000 };

interface Entry { failures: number; lastFailureAt: number; nextAt: number }

/**
 * Slows down guessing: an attempt from an address with `n` recent failures
 * waits `min(maxMs, baseMs × 2^(n-1))` before its token is even looked at,
 * and attempts from one address are evaluated one after another. An attempt
 * that would have to wait longer than `maxMs` is refused without being
 * evaluated (429). Counts decay, so an honest worker is not punished for long.
 */
export class AuthThrottle {
  readonly #o: AuthThrottleOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock, options: Partial<AuthThrottleOptions> = {}) {
    this.#o = { ...AUTH_THROTTLE_DEFAULTS, ...options };
  }

  /** Recent failures of `address`, decayed to now. */
  failures(address: string): number {
    const e = this.#entries.get(address);
    if (!e) return 0;
    const halvings = Math.floor((this.clock.now() - e.lastFailureAt) / this.#o.decayMs);
    return halvings >= 31 ? 0 : e.failures >> halvings;
  }

  /** The wait an attempt with `failures` recent failures gets, in ms. */
  delayFor(failures: number): number {
    if (failures <= 0) return 0;
    return Math.min(this.#o.maxMs, this.#o.baseMs * 2 ** Math.min(failures - 1, 30));
  }

  /**
   * Books an attempt from `address`: the ms to wait before evaluating it, or
   * `null` when it must be refused at once (it would wait longer than `maxMs`).
   */
  admit(address: string): number | null {
    const now = this.clock.now();
    const failures = this.failures(address);
    if (failures === 0) return 0;
    const e = this.#entries.get(address) as Entry;
    const at = Math.max(now, e.nextAt) + this.delayFor(failures);
    if (at - now > this.#o.maxMs) return null;
    e.nextAt = at;
    return at - now;
  }

  /** Records a failed attempt from `address`. */
  fail(address: string): void {
    const now = this.clock.now();
    const failures = this.failures(address) + 1;
    const nextAt = this.#entries.get(address)?.nextAt ?? now;
    this.#entries.delete(address); // re-insert: the Map's order is least recently failed first
    this.#entries.set(address, { failures, lastFailureAt: now, nextAt });
    while (this.#entries.size > this.#o.maxAddresses) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  /** How many addresses are remembered. */
  get size(): number {
    return this.#entries.size;
  }
}
