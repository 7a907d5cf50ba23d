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
import { GoatError } from '../errors.js';

/**
 * The one failure-detector configuration of a cluster. The manager owns it
 * (ManagerOptions, config `manager.heartbeatMs`/`downAfterMs`) and sends it
 * to every worker in `welcome`; the manager's per-node detector, both ends
 * of a link and the worker all judge silence by these numbers and no others.
 */
export interface DetectorConfig {
  /** How often workers send heartbeats (ms). */
  heartbeatMs: number;
  /** Silence (stalls discounted) after which a node is `suspect`: no new placements (ms). */
  suspectAfterMs: number;
  /** Silence (stalls discounted) after which a node is `down` and its tasks are re-placed (ms). */
  downAfterMs: number;
  /**
   * Silence after which either end closes the link and the worker dials
   * again (ms): after `suspect`, before `down`, so that a link that merely
   * broke is re-made before the node is declared down.
   */
  linkSilenceMs: number;
}

/** The defaults, defined here once: every other place reads them from {@link detectorConfig}. */
export const DETECTOR_DEFAULTS = Object.freeze({
  /** One heartbeat a second: cheap (a few bytes per node) and fine-grained enough to judge silence in seconds. */
  heartbeatMs: 1_000,
  /** Four missed heartbeats: a node is re-placed within ~5 s of dying (README's failure table), and one GC pause or lost frame is not enough. */
  downAfterMs: 4_000,
  /** `suspect` after this many intervals of silence. */
  suspectIntervals: 2,
  /** A link is closed after this many intervals of silence. */
  linkSilenceIntervals: 3,
});

/**
 * The full configuration from what was given: each missing field from
 * {@link DETECTOR_DEFAULTS}; suspect and link silence never beyond down.
 * A node must be able to miss a heartbeat before it is down: `downAfterMs`
 * not above `heartbeatMs` is refused (GOAT_ERR_INVALID_CONFIG), since every
 * node would flap between `ready` and `down`.
 */
export function detectorConfig(given: Partial<DetectorConfig> = {}): DetectorConfig {
  const heartbeatMs = given.heartbeatMs ?? DETECTOR_DEFAULTS.heartbeatMs;
  // With a slow heartbeat and no down timeout given, down waits the same number of missed heartbeats as by default.
  const downAfterMs = given.downAfterMs ?? Math.max(DETECTOR_DEFAULTS.downAfterMs, (DETECTOR_DEFAULTS.downAfterMs / DETECTOR_DEFAULTS.heartbeatMs) * heartbeatMs);
  if (downAfterMs <= heartbeatMs) {
    throw new GoatError('GOAT_ERR_INVALID_CONFIG', `downAfterMs (${downAfterMs}) must be above heartbeatMs (${heartbeatMs}): a node would be down between two heartbeats`, {
      details: { field: 'downAfterMs', expected: `more than heartbeatMs (${heartbeatMs})` },
    });
  }
  return {
    heartbeatMs,
    downAfterMs,
    suspectAfterMs: Math.min(given.suspectAfterMs ?? DETECTOR_DEFAULTS.suspectIntervals * heartbeatMs, downAfterMs),
    linkSilenceMs: Math.min(given.linkSilenceMs ?? DETECTOR_DEFAULTS.linkSilenceIntervals * heartbeatMs, downAfterMs),
  };
}

/** What the detector says of a node. */
export type DetectorVerdict = 'ready' | 'suspect' | 'down';

/** Timing of the detector (ms). */
export interface FailureDetectorOptions {
  /** How often nodes send heartbeats. @default DETECTOR_DEFAULTS.heartbeatMs */
  intervalMs?: number;
  /** Silence after which a node is `suspect`. @default 2 × intervalMs (never more than downAfterMs) */
  suspectAfterMs?: number;
  /** Silence after which a node is `down`. @default DETECTOR_DEFAULTS.downAfterMs */
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
    const c = detectorConfig({
      ...(options.intervalMs === undefined ? {} : { heartbeatMs: options.intervalMs }),
      ...(options.downAfterMs === undefined ? {} : { downAfterMs: options.downAfterMs }),
      ...(options.suspectAfterMs === undefined ? {} : { suspectAfterMs: options.suspectAfterMs }),
    });
    this.intervalMs = c.heartbeatMs;
    this.downAfterMs = c.downAfterMs;
    this.suspectAfterMs = c.suspectAfterMs;
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
