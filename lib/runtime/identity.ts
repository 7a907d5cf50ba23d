/**
 * How a task instance is named and labelled, in Docker and on disk: one
 * `(taskId, generation)` pair maps to one container name, one set of labels
 * and one state folder. Adoption after a restart relies on these alone.
 */
import { GoatError } from '../errors.js';
import type { RuntimeTask, TaskIdentity } from './types.js';

/** The Docker labels on every container Goat creates (DESIGN.md, "Docker objects"). */
export const LABELS = {
  cluster: 'goat.cluster',
  task: 'goat.task',
  generation: 'goat.generation',
  service: 'goat.service',
  slot: 'goat.slot',
  node: 'goat.node',
} as const;

export type { TaskIdentity } from './types.js';

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** `<taskId>-g<generation>`: the instance's key, and the name of its process state folder. */
export function instanceKey(taskId: string, generation: number): string {
  return `${taskId}-g${generation}`;
}

/** `goat-<taskId>-g<generation>`: the instance's container name. */
export function containerName(taskId: string, generation: number): string {
  return `goat-${instanceKey(taskId, generation)}`;
}

/** Throws `GOAT_ERR_INVALID_SPEC` unless `taskId` and `generation` can name a container and a folder. */
export function checkInstanceId(taskId: string, generation: number): void {
  if (typeof taskId !== 'string' || !SAFE_ID.test(taskId) || taskId.length > 200) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `task id ${JSON.stringify(taskId)} must be letters, digits, "_", "." or "-"`, {
      details: { field: 'taskId', value: taskId },
    });
  }
  if (!Number.isSafeInteger(generation) || generation < 0) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `generation must be a non-negative integer, got ${generation}`, {
      details: { field: 'generation', value: generation },
    });
  }
}

/** Throws `GOAT_ERR_INVALID_SPEC` unless `value` is a port number (1..65535), or absent when optional. */
function checkPort(value: number | undefined, field: string, required: boolean): void {
  if (value === undefined && !required) return;
  if (value === undefined || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `${field} must be a port number (1-65535), got ${value}`, { details: { field, value } });
  }
}

/** Throws `GOAT_ERR_INVALID_SPEC` naming the first field of `task` (identity or ports) that is unusable. */
export function checkTask(task: RuntimeTask): void {
  checkInstanceId(task.taskId, task.generation);
  if (!Number.isSafeInteger(task.slot) || task.slot < 0) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `slot must be a non-negative integer, got ${task.slot}`, {
      details: { field: 'slot', value: task.slot },
    });
  }
  for (const field of ['service', 'nodeId', 'cluster'] as const) {
    if (typeof task[field] !== 'string' || task[field].length === 0) {
      throw new GoatError('GOAT_ERR_INVALID_SPEC', `${field} must be a non-empty string`, { details: { field } });
    }
  }
  (task.spec.ports ?? []).forEach((port, i) => {
    checkPort(port.container, `spec.ports[${i}].container`, true);
    checkPort(port.host, `spec.ports[${i}].host`, false);
  });
}

/** The labels of a task instance's container. */
export function taskLabels(task: TaskIdentity): Record<string, string> {
  return {
    [LABELS.cluster]: task.cluster,
    [LABELS.task]: task.taskId,
    [LABELS.generation]: String(task.generation),
    [LABELS.service]: task.service,
    [LABELS.slot]: String(task.slot),
    [LABELS.node]: task.nodeId,
  };
}

/** The identity recorded in a container's labels, or undefined when they are not a complete Goat set. */
export function identityFromLabels(labels: Record<string, string> | null | undefined): TaskIdentity | undefined {
  if (!labels) return undefined;
  const generation = Number(labels[LABELS.generation]);
  const slot = Number(labels[LABELS.slot]);
  const taskId = labels[LABELS.task];
  const service = labels[LABELS.service];
  const nodeId = labels[LABELS.node];
  const cluster = labels[LABELS.cluster];
  if (taskId === undefined || service === undefined || nodeId === undefined || cluster === undefined) return undefined;
  if (!Number.isSafeInteger(generation) || !Number.isSafeInteger(slot)) return undefined;
  return { taskId, generation, service, slot, nodeId, cluster };
}

/** `GOAT_ERR_NO_SUCH_TASK` for an instance the runtime does not have. */
export function noSuchTask(taskId: string, generation: number): GoatError {
  return new GoatError('GOAT_ERR_NO_SUCH_TASK', `no container or process for task ${taskId} generation ${generation}`, {
    details: { taskId, generation },
  });
}
