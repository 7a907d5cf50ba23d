/**
 * Planted bugs: test-only switches that break Goat on purpose, so that the
 * deterministic simulation can show it catches each one (spec/sim). All are
 * off by default; nothing but the simulation's own tests turns them on.
 */
export const planted = {
  /** The worker ignores generations: a `stop` stops every copy of that slot on the node, whatever its generation. */
  workerIgnoresGenerations: false,
  /** The manager skips its recovery grace: after a restart, nodes known before are judged at once. */
  skipRecoveryGrace: false,
  /** The manager re-places a node's tasks when it turns `suspect`, without waiting for `down`. */
  replaceBeforeDown: false,
  /**
   * The manager trusts its timers to fire on time: it runs on the host's bare timers (which may fire before their
   * time, as Node's do), and its service controllers and scheduler keep a wake-up that fired early as pending — the
   * bug behind issue 10's stalled rollout.
   */
  trustTimers: false,
};

/** The names of the planted bugs. */
export type PlantedBug = keyof typeof planted;

/** Every planted bug's name. */
export const PLANTED_BUGS = Object.keys(planted) as PlantedBug[];

/** Turns every planted bug off. */
export function resetPlanted(): void {
  for (const k of PLANTED_BUGS) planted[k] = false;
}
