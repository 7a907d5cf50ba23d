/** What `--wait` judges (lib/cli/converge.ts): the current generation, the current version's rollout. */
import test from 'ava';
import { convergence } from '../../lib/cli/converge.js';
import type { TaskRecord, TaskState } from '../../lib/model/index.js';

const v1 = { command: ['node', 'a.js'], env: {} };
const v2 = { command: ['node', 'b.js'], env: {} };
const task = (slot: number, generation: number, state: TaskState, spec: unknown, error?: string): TaskRecord => ({
  id: `web.${slot}.g${generation}`, service: 'web', slot, generation, node: 'n1', state, desired: 'running', restarts: 0, lastExit: null,
  failure: null, error: error ? { message: error } : null, spec: spec as TaskRecord['spec'], createdAt: 0, updatedAt: 0,
});

test('failed generations before the current one are history: the current ones running is convergence', (t) => {
  const svc = { version: 3, update: { state: 'completed', message: 'update completed', version: 3 } };
  const tasks = [task(0, 1, 'failed', v1, 'executable x not found on this node'), task(0, 2, 'failed', v1, 'boom'), task(0, 3, 'running', v2), task(1, 1, 'running', v2)];
  t.like(convergence(svc, tasks, 2), { running: 2, done: true });
});

test('a rollout status of an earlier version is not this change\'s: its pause does not fail --wait', (t) => {
  const old = [task(0, 3, 'running', v1), task(1, 1, 'running', v1)];
  const r = convergence({ version: 4, update: { state: 'paused', message: 'update paused: 1 of 1 new task failed', version: 3 } }, old, 2);
  t.is(r.paused, undefined, 'a scale after a paused rollout: the rollout resumes');
  t.true(r.done);
});

test('the current version\'s rollout: in progress is not done; paused fails with its message', (t) => {
  const tasks = [task(0, 2, 'running', v2), task(1, 1, 'running', v2)];
  t.like(convergence({ version: 3, update: { state: 'updating', message: 'update in progress', version: 3 } }, tasks, 2), { running: 2, done: false, waiting: 'update in progress' });
  t.like(convergence({ version: 3, update: { state: 'paused', message: 'update paused: why', version: 3 } }, tasks, 2), { paused: 'update paused: why', waiting: 'update paused: why' });
});

test('a slot whose task completed under restart policy no / on-failure is converged; under always it is not', (t) => {
  const tasks = [task(0, 1, 'completed', v1), task(1, 1, 'running', v1)];
  for (const policy of ['no', 'on-failure']) {
    t.like(convergence({ version: 1, spec: { task: { restart: { policy } } }, update: null }, tasks, 2), { running: 1, completed: 1, done: true }, policy);
  }
  t.like(convergence({ version: 1, spec: { task: { restart: { policy: 'always' } } }, update: null }, tasks, 2), { running: 1, completed: 0, done: false });
});
