/**
 * lib/manager — the manager's decisions, pure (`step(state, event) →
 * { state, effects }`), and the journal its actors write through. The
 * actors in actors/manager run these; nothing here sets a timer or reads
 * the time.
 *
 * - `liveness.ts`: one node's liveness (suspect, ready, down; the recovery grace).
 * - `reports.ts`: a worker's hello and reports → task writes, stops, re-sends, lost tasks.
 * - `service.ts`: a service's replica controller (slots → tasks).
 * - `placement.ts`: fair, bounded placement rounds with backoff.
 * - `journal.ts`: store transactions with their events.
 */
export { Journal, type PendingEvent } from './journal.js';
export { livenessStep, linkedLiveness, recoveringLiveness, silenceMs, type LivenessState, type LivenessEvent, type LivenessEffect, type Stall } from './liveness.js';
export { applyReports, applyHello, watchesRunning, type ReportedTask, type ReportOutcome, type HelloOutcome } from './reports.js';
export { serviceStep, initialServiceState, type ServiceState, type ServiceEffects } from './service.js';
export { roundBatch, afterRound, PLACEMENT_DEFAULTS, INITIAL_PLACEMENT, type PlacementState } from './placement.js';
