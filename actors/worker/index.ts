/**
 * actors/worker — the worker's actors: the worker supervisor (runtime gate
 * and tasks, rest-for-one) and one actor per task.
 */
export { Worker, TASKS_BUDGET, WORKER_BUDGET, WORKER_PATH, type WorkerOptions, type TaskView, type WorkerEvent, type AssignInput } from './worker.js';
export { taskChild, runtimeTask, TaskExit, type TaskReport, type TaskDeps } from './task.js';
export { joinCluster, toReport, type JoinOptions, type JoinedWorker } from './join.js';
