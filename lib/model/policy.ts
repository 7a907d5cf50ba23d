/**
 * Restart policies on top of the supervision library: which OTP restart type,
 * budget and backoff a task actor gets.
 *
 * | policy          | restart type | restarted after        |
 * |-----------------|--------------|------------------------|
 * | no              | temporary    | never                  |
 * | on-failure      | transient    | a non-zero exit, a failed health check |
 * | always          | permanent    | any exit               |
 * | unless-stopped  | permanent    | any exit; a task stopped on purpose is not brought back by a worker restart |
 */
import type { ChildOptionsInput, RestartType } from '../supervision/index.js';
import type { RestartPolicy, TaskSpec } from './spec.js';

/** The OTP restart type of a policy. */
export function restartTypeOf(policy: RestartPolicy): RestartType {
  switch (policy) {
    case 'no':
      return 'temporary';
    case 'on-failure':
      return 'transient';
    case 'always':
    case 'unless-stopped':
      return 'permanent';
  }
}

/** The supervision options of a task's actor: restart type, its own budget, backoff, stop grace. */
export function childOptionsFor(taskId: string, spec: TaskSpec): ChildOptionsInput {
  return {
    id: taskId,
    restart: restartTypeOf(spec.restart.policy),
    budget: { maxRestarts: spec.restart.maxRestarts, windowMs: spec.restart.windowMs },
    backoff: spec.restart.backoff,
    shutdownMs: spec.stopTimeoutMs + 5_000,
  };
}
