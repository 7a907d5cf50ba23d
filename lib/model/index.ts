/**
 * lib/model — the nouns of the cluster as data: service and task specs with
 * their defaults and validation, the task state machine, and how a restart
 * policy maps onto supervision.
 */
export { TASK_DEFAULTS } from './defaults.js';
export { normalizeTaskSpec, taskSpecSchema, RESTART_POLICIES, type RestartPolicy, type TaskSpec, type TaskSpecInput, type HealthSpec } from './spec.js';
export { TASK_STATES, TERMINAL_STATES, TRANSITIONS, canTransition, transition, isTerminal, type TaskState } from './state.js';
export { restartTypeOf, childOptionsFor } from './policy.js';
export { classifyExit, classifyError, type FailureKind, type TaskFailure, type ExitFacts } from './failure.js';
export { normalizeServiceSpec, serviceSpecSchema, SERVICE_NAME, type ServiceSpec, type ServiceSpecInput } from './service.js';
export type { ServiceRecord, TaskRecord, NodeRecord, NodeStatus, NodeCapacity, NodeUsage, LastExit, ClusterEvent } from './records.js';
export { FailureDetector, type DetectorVerdict, type FailureDetectorOptions } from './failure-detector.js';
export { reconcileService, isLive, type ReconcileResult } from './reconcile.js';
export { applyReportedFault, clip, MAX_REPORTED_MESSAGE, type ReportedFault } from './report.js';
