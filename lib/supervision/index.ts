/**
 * lib/supervision — OTP-style supervision, independent of nact: child specs
 * as data, the pure restart decision, backoff and budgets, strategies, the
 * bounded stash, events and snapshots, and the {@link Supervisor} that ties
 * them together. `actors/supervision` runs nact actors under it.
 */
export * from './types.js';
export { DEFAULTS, DEFAULT_BACKOFF } from './defaults.js';
export { normalizeChildOptions, normalizeSupervisorFlags, ID_PATTERN, type ChildOptionsInput, type SupervisorFlagsInput } from './spec.js';
export { backoffDelay, baseDelay, nextAttempt, type Random } from './backoff.js';
export { inWindow, countInWindow, recordIn, wouldExceed } from './budget.js';
export { decide, type RestartAction, type RestartDecision, type RestartHistory } from './decide.js';
export { systemClock, wallClock, hostTimers, SimulatedClock, sleep, settle, type Clock, type HostTimers, type TimerId } from './clock.js';
export { EventBus, EVENT_TYPES, type SupervisorEvent, type SupervisorEventBody, type EventListener, type DeadLetterReason, type StopReason } from './events.js';
export { Stash, type Stashed } from './stash.js';
export type { ChildStatus, TreeNode } from './snapshot.js';
export type { ChildHandle, ChildSpec, StartContext, Delivery, ChildRefLike } from './child.js';
export { ChildRef, type Reply } from './ref.js';
export { Supervisor, type SupervisorOptions, type SupervisorState, type PathHandle } from './supervisor.js';
export { dataCopy, isIntrospection, INTROSPECTION_TYPES, type ActorInfo, type HandleIntrospection, type IntrospectionType } from './introspect.js';
export { EscalationLog } from './escalation.js';
export { supervisorChild, sameHost, type HostFactory, type SupervisorChildInput } from './nested.js';
