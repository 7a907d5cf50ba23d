/**
 * The scheduler's own decisions, pure: which pending tasks a placement round
 * tries, and when the next round runs.
 *
 * - Bounded rounds: at most `maxPerRound` tasks, so that a burst (10,000
 *   tasks at once) never stalls heartbeats and the API for seconds.
 * - Fair: each round starts where the last one stopped (a cursor over the
 *   pending queue, wrapping around), so that a service with thousands of
 *   unplaceable replicas cannot starve the services after it: every pending
 *   task is tried within ⌈pending / maxPerRound⌉ rounds.
 * - Backoff: a round that placed nothing while tasks remain untried waits
 *   (doubling, capped) before the next, instead of spinning at 100 % CPU; a
 *   change (new tasks, a node linked, capacity freed) runs a round at once
 *   and resets the backoff.
 */

/** Timings and bounds of placement. */
export const PLACEMENT_DEFAULTS = Object.freeze({
  /** Tasks tried per round: ~10 ms of placement work per round on a laptop, so the event loop stays responsive. */
  maxPerRound: 2_000,
  /** First wait after a round that placed nothing. */
  backoffInitialMs: 50,
  /** Longest wait between idle rounds: an unplaceable backlog costs at most one round per this. */
  backoffMaxMs: 5_000,
});

/** What the scheduler remembers between rounds. */
export interface PlacementState {
  /** The key of the last task tried (rounds go on after it); null: from the start. */
  cursor: string | null;
  /** Consecutive rounds that placed nothing. */
  idleRounds: number;
}

/** The initial state. */
export const INITIAL_PLACEMENT: PlacementState = Object.freeze({ cursor: null, idleRounds: 0 });

/**
 * The tasks this round tries, from `pending` (sorted by `key`): up to `max`,
 * starting after the cursor and wrapping around. `covered` is true when the
 * round tries every pending task.
 */
export function roundBatch<T>(state: PlacementState, pending: readonly T[], key: (t: T) => string, max: number = PLACEMENT_DEFAULTS.maxPerRound): { batch: T[]; covered: boolean } {
  if (pending.length <= max) return { batch: [...pending], covered: true };
  let start = 0;
  if (state.cursor !== null) {
    const cursor = state.cursor;
    start = pending.findIndex((t) => key(t) > cursor);
    if (start < 0) start = 0;
  }
  const batch = pending.slice(start, start + max);
  if (batch.length < max) batch.push(...pending.slice(0, max - batch.length));
  return { batch, covered: false };
}

/** What follows a round: the next state, and when to run again (`null`: only on a change). */
export function afterRound<T>(state: PlacementState, round: { batch: readonly T[]; covered: boolean; placed: number }, key: (t: T) => string): { state: PlacementState; nextInMs: number | null } {
  const last = round.batch[round.batch.length - 1];
  const cursor = round.covered || last === undefined ? null : key(last);
  if (round.placed > 0) return { state: { cursor, idleRounds: 0 }, nextInMs: round.covered ? null : 0 };
  const idleRounds = state.idleRounds + 1;
  if (round.covered) return { state: { cursor, idleRounds }, nextInMs: null };
  const wait = Math.min(PLACEMENT_DEFAULTS.backoffMaxMs, PLACEMENT_DEFAULTS.backoffInitialMs * 2 ** Math.min(30, idleRounds - 1));
  return { state: { cursor, idleRounds }, nextInMs: wait };
}
