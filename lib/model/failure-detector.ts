/**
 * The failure detector's one configuration: heartbeat interval, suspect and
 * down timeouts, link silence. The detector itself is the pure liveness step
 * of each `nodes/<id>` actor (lib/manager/liveness.ts), which discounts the
 * manager's own stalls from a node's silence.
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
