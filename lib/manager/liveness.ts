/**
 * One node's liveness as a pure step (`step(state, event) → { state, effects }`),
 * the decision its `nodes/<id>` actor runs: heartbeats and the link's open
 * and close come in, and a periodic check whose own lateness is the
 * manager's event-loop lag (a stall, not the node's silence: see
 * lib/model/failure-detector.ts). Out come status changes: `suspect` (no new
 * placements), `ready` again, or `down` (its tasks are lost and re-placed).
 *
 * Timings are the one {@link DetectorConfig}. A node known from before a
 * manager restart starts unlinked, in a recovery grace during which it is
 * never declared down, so that workers have time to say hello again.
 */
import type { DetectorConfig } from '../model/index.js';

/** A stall of the manager's own event loop: it ended at `at` and lasted `ms`. */
export interface Stall {
  at: number;
  ms: number;
}

/** What one node's actor knows of its liveness. */
export interface LivenessState {
  /** A link to its worker is open. */
  linked: boolean;
  /** When its last heartbeat (or hello, or the manager's start for a node known from before) arrived. */
  lastBeatAt: number;
  /** The manager's stalls since then (discounted from its silence). */
  stalls: Stall[];
  /** Marked `suspect` for silence while linked: `ready` again at its next heartbeat. */
  silent: boolean;
  /** No `down` verdict before this time (the recovery grace after a manager start); null: none. */
  graceUntil: number | null;
  /** Declared down: nothing more happens until it links again. */
  down: boolean;
}

/** What happens to a node. */
export type LivenessEvent =
  | { type: 'linked'; at: number }
  | { type: 'heartbeat'; at: number }
  | { type: 'unlinked' }
  | { type: 'check'; at: number; lateMs: number };

/** The status changes a step decides. */
export type LivenessEffect = { type: 'suspect' } | { type: 'ready' } | { type: 'down' };

/** A node that just linked. */
export function linkedLiveness(at: number): LivenessState {
  return { linked: true, lastBeatAt: at, stalls: [], silent: false, graceUntil: null, down: false };
}

/** A node known from the store at a manager start: unlinked (suspect) until its worker says hello, never down during the grace. */
export function recoveringLiveness(startedAt: number, graceMs: number): LivenessState {
  return { linked: false, lastBeatAt: startedAt, stalls: [], silent: false, graceUntil: startedAt + graceMs, down: false };
}

/** How long the node has really been silent at `now`: time since its last heartbeat minus the manager's stalls in between. */
export function silenceMs(s: LivenessState, now: number): number {
  let stalled = 0;
  for (const st of s.stalls) stalled += Math.max(0, Math.min(st.at, now) - Math.max(st.at - st.ms, s.lastBeatAt));
  return Math.max(0, now - s.lastBeatAt - stalled);
}

/** One step of a node's liveness. */
export function livenessStep(config: DetectorConfig, s: LivenessState, e: LivenessEvent): { state: LivenessState; effects: LivenessEffect[] } {
  switch (e.type) {
    case 'linked':
      return { state: linkedLiveness(e.at), effects: [] };
    case 'heartbeat': {
      if (s.down) return { state: s, effects: [] };
      const state = { ...s, lastBeatAt: Math.max(s.lastBeatAt, e.at), stalls: [], silent: false };
      return { state, effects: s.silent && s.linked ? [{ type: 'ready' }] : [] };
    }
    case 'unlinked':
      if (s.down || !s.linked) return { state: s, effects: [] };
      return { state: { ...s, linked: false, silent: false }, effects: [{ type: 'suspect' }] };
    case 'check': {
      if (s.down) return { state: s, effects: [] };
      const stalls = e.lateMs > 0 ? [...s.stalls, { at: e.at, ms: e.lateMs }].slice(-256) : s.stalls;
      const graceUntil = s.graceUntil !== null && e.at >= s.graceUntil ? null : s.graceUntil;
      const next = { ...s, stalls, graceUntil };
      const silence = silenceMs(next, e.at);
      if (silence >= config.downAfterMs && graceUntil === null) return { state: { ...next, down: true, linked: false, silent: false }, effects: [{ type: 'down' }] };
      if (silence >= config.suspectAfterMs && next.linked && !next.silent) return { state: { ...next, silent: true }, effects: [{ type: 'suspect' }] };
      return { state: next, effects: [] };
    }
  }
}
