/**
 * The task state machine, in one place (DESIGN.md "Task states"). A task is
 * one generation of a slot; its state only moves forward along this table.
 *
 *   pending → assigned → starting → running → exited → restarting → starting …
 *   terminal: completed, failed, lost, stopped
 *   unknown: its node went silent; back to running when it returns, else lost
 */
import { GoatError } from '../errors.js';

/** Every task state. */
export const TASK_STATES = ['pending', 'assigned', 'starting', 'running', 'exited', 'restarting', 'unknown', 'completed', 'failed', 'lost', 'stopped'] as const;
/** Where a task stands. */
export type TaskState = (typeof TASK_STATES)[number];

/** States a task never leaves. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['completed', 'failed', 'lost', 'stopped']);

/** The allowed moves: from → the states it may go to. */
export const TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = Object.freeze({
  pending: ['assigned', 'failed', 'stopped'],
  assigned: ['starting', 'running', 'failed', 'stopped', 'lost', 'unknown'],
  starting: ['running', 'exited', 'failed', 'stopped', 'lost', 'unknown'],
  running: ['exited', 'completed', 'failed', 'stopped', 'lost', 'unknown'],
  exited: ['restarting', 'completed', 'failed', 'stopped', 'lost', 'unknown'],
  restarting: ['starting', 'running', 'failed', 'stopped', 'lost', 'unknown'],
  unknown: ['running', 'exited', 'restarting', 'completed', 'failed', 'stopped', 'lost'],
  completed: [],
  failed: [],
  lost: [],
  stopped: [],
});

/** True when a task may move from `from` to `to` (staying put is not a move). */
export function canTransition(from: TaskState, to: TaskState): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * True when `to` can follow `from` through one or more allowed moves: a
 * worker says where a task is now, and the moves between may have gone
 * unreported (its link was down meanwhile: `exited` then `running` means it
 * restarted). Nothing follows a terminal state, and nothing goes back to
 * `pending` or `assigned`.
 */
export function canReach(from: TaskState, to: TaskState): boolean {
  const seen = new Set<TaskState>([from]);
  const queue: TaskState[] = [from];
  while (queue.length > 0) {
    for (const next of TRANSITIONS[queue.shift()!]) {
      if (next === to) return true;
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return false;
}

/** Returns `to` when the move is allowed, else throws GOAT_ERR_INVALID_TRANSITION. */
export function transition(from: TaskState, to: TaskState, taskId = '?'): TaskState {
  if (!canTransition(from, to)) {
    throw new GoatError('GOAT_ERR_INVALID_TRANSITION', `task ${taskId} cannot go from ${from} to ${to}`, { details: { taskId, from, to } });
  }
  return to;
}

/** True for completed, failed, lost and stopped. */
export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.has(state);
}
