/**
 * lib/model — the nouns of the cluster as data: service and task specs with
 * their defaults and validation, the task state machine, and how a restart
 * policy maps onto supervision.
 */
export { TASK_DEFAULTS, SERVICE_DEFAULTS } from './defaults.js';
export { normalizeTaskSpec, taskSpecSchema, RESTART_POLICIES, type RestartPolicy, type TaskSpec, type TaskSpecInput, type HealthSpec } from './spec.js';
export { TASK_STATES, TERMINAL_STATES, TRANSITIONS, canTransition, canReach, transition, isTerminal, type TaskState } from './state.js';
export { restartTypeOf, childOptionsFor } from './policy.js';
export { classifyExit, classifyError, type FailureKind, type TaskFailure, type ExitFacts } from './failure.js';
export { normalizeServiceSpec, withServiceDefaults, serviceSpecSchema, SERVICE_NAME, ROLLOUT_ORDERS, FAILURE_ACTIONS, type ServiceSpec, type ServiceSpecInput, type RescheduleSpec, type RolloutSpec } from './service.js';
export type { ServiceRecord, ServiceState, ServiceStatus, RolloutStatus, RolloutState, TaskRecord, NodeRecord, NodeStatus, NodeCapacity, NodeUsage, LastExit, ClusterEvent } from './records.js';
export { DETECTOR_DEFAULTS, detectorConfig, type DetectorConfig } from './failure-detector.js';
export { reconcileService, isLive, whyFailed, type ReconcileResult, type ReconcileEvent } from './reconcile.js';
export { stepRollout, isRolling, type RolloutObservation, type RolloutEffect, type RolloutStep } from './rollout.js';
export { decideSlot, FRESH_SLOT, type SlotSupervision, type SlotEvent, type SlotDecision } from './slot.js';
export { applyReportedFault, clip, MAX_REPORTED_MESSAGE, type ReportedFault } from './report.js';
export { tasksBySlot, slotInfos, serviceInfo, waitingWhy, type SlotInfo, type ServiceInfo } from './slots.js';
export { completesUnder, completedForGood, completedWhy } from './completion.js';
