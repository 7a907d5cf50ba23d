/**
 * A heartbeat failure detector, pure and clock-injected: the caller tells it
 * when each node's heartbeats arrived and how long its own event loop was
 * blocked, and asks what status a node should have at a given time.
 *
 * Silence the manager caused itself — a GC pause, a burst of work, a blocked
 * event loop — is not the node's fault: heartbeats sent meanwhile sit unread
 * in the socket and arrive late, in a burst. So every stall observed since a
 * node's last heartbeat is subtracted from that node's silence before it is
 * judged: a 2 s stall never turns a healthy node `suspect` or `down`, while a
 * node that really went silent is judged on time.
 */

/** What the detector says of a node. */
export type DetectorVerdict = 'ready' | 'suspect' | 'down';

/** Timing of the detector (ms). */
export interface FailureDetectorOptions {
  /** How often nodes send heartbeats. @default 1000 */
  intervalMs?: number;
  /** Silence after which a node is `suspect`. @default 2 × intervalMs (never more than downAfterMs) */
  suspectAfterMs?: number;
  /** Silence after which a node is `down`. @default 4000 */
  downAfterMs?: number;
}

/** A stall of the caller's own event loop: it ended at `at` and lasted `ms`. */
interface Stall {
  at: number;
  ms: number;
}

/** Per node heartbeat arrival times, the caller's stalls, and the verdicts they give. */
export class FailureDetector {
  /** Heartbeat interval (ms). */
  readonly intervalMs: number;
  /** Silence (ms, stalls discounted) after which a node is suspect. */
  readonly suspectAfterMs: number;
  /** Silence (ms, stalls discounted) after which a node is down. */
  readonly downAfterMs: number;
  readonly #last = new Map<string, number>();
  #stalls: Stall[] = [];

  constructor(options: FailureDetectorOptions = {}) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.downAfterMs = options.downAfterMs ?? 4_000;
    this.suspectAfterMs = Math.min(options.suspectAfterMs ?? 2 * this.intervalMs, this.downAfterMs);
  }

  /** A heartbeat (or any sign of life) from `node` arrived at `at`. */
  heartbeat(node: string, at: number): void {
    const last = this.#last.get(node);
    if (last === undefined || at > last) this.#last.set(node, at);
    this.#prune();
  }

  /**
   * The caller's event loop was blocked for `ms` until `at` (e.g. a timer
   * that fired `ms` late). Silence overlapping it is not held against nodes.
   */
  stall(at: number, ms: number): void {
    if (ms <= 0) return;
    this.#stalls.push({ at, ms });
    this.#prune();
  }

  /** Stops tracking `node`. */
  forget(node: string): void {
    this.#last.delete(node);
  }

  /** The nodes it tracks. */
  nodes(): string[] {
    return [...this.#last.keys()];
  }

  /** When the last heartbeat of `node` arrived, or undefined when it is not tracked. */
  lastHeartbeat(node: string): number | undefined {
    return this.#last.get(node);
  }

  /** How long `node` has really been silent at `now`: time since its last heartbeat minus the caller's stalls in between. */
  silenceMs(node: string, now: number): number | undefined {
    const last = this.#last.get(node);
    if (last === undefined) return undefined;
    let stalled = 0;
    for (const s of this.#stalls) stalled += Math.max(0, Math.min(s.at, now) - Math.max(s.at - s.ms, last));
    return Math.max(0, now - last - stalled);
  }

  /** The status `node` should have at `now`; undefined when it is not tracked. */
  status(node: string, now: number): DetectorVerdict | undefined {
    const silence = this.silenceMs(node, now);
    if (silence === undefined) return undefined;
    if (silence >= this.downAfterMs) return 'down';
    if (silence >= this.suspectAfterMs) return 'suspect';
    return 'ready';
  }

  /** Drops stalls that ended before every tracked node's last heartbeat: they can no longer count. */
  #prune(): void {
    if (this.#stalls.length < 64) return;
    const oldest = Math.min(...this.#last.values());
    this.#stalls = this.#stalls.filter((s) => s.at > oldest).slice(-1_024);
  }
}
