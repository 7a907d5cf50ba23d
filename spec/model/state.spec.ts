import test from 'ava';
import { GoatError } from '../../lib/errors.js';
import { TASK_STATES, TRANSITIONS, canReach, canTransition, isTerminal, transition, type TaskState } from '../../lib/model/index.js';

const allowed: [TaskState, TaskState][] = [
  ['pending', 'assigned'], ['pending', 'failed'], ['pending', 'stopped'],
  ['assigned', 'starting'], ['assigned', 'running'], ['assigned', 'failed'], ['assigned', 'stopped'], ['assigned', 'lost'], ['assigned', 'unknown'],
  ['starting', 'running'], ['starting', 'exited'], ['starting', 'failed'], ['starting', 'stopped'], ['starting', 'lost'], ['starting', 'unknown'],
  ['running', 'exited'], ['running', 'completed'], ['running', 'failed'], ['running', 'stopped'], ['running', 'lost'], ['running', 'unknown'],
  ['exited', 'restarting'], ['exited', 'completed'], ['exited', 'failed'], ['exited', 'stopped'], ['exited', 'lost'], ['exited', 'unknown'],
  ['restarting', 'starting'], ['restarting', 'running'], ['restarting', 'failed'], ['restarting', 'stopped'], ['restarting', 'lost'], ['restarting', 'unknown'],
  ['unknown', 'running'], ['unknown', 'exited'], ['unknown', 'restarting'], ['unknown', 'completed'], ['unknown', 'failed'], ['unknown', 'stopped'], ['unknown', 'lost'],
];
const key = (a: TaskState, b: TaskState): string => `${a}→${b}`;
const allowedKeys = new Set(allowed.map(([a, b]) => key(a, b)));

for (const from of TASK_STATES) {
  for (const to of TASK_STATES) {
    const ok = allowedKeys.has(key(from, to));
    test(`${from} → ${to} is ${ok ? 'allowed' : 'refused'}`, (t) => {
      t.is(canTransition(from, to), ok);
      if (ok) t.is(transition(from, to, 't1'), to);
      else t.is(t.throws(() => transition(from, to, 't1'), { instanceOf: GoatError })?.code, 'GOAT_ERR_INVALID_TRANSITION');
    });
  }
}

test('the table has exactly the listed moves', (t) => {
  const listed = Object.entries(TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => key(from as TaskState, to)));
  t.deepEqual(new Set(listed), allowedKeys);
});

test('the happy path and a restart loop go forward', (t) => {
  const path: TaskState[] = ['pending', 'assigned', 'starting', 'running', 'exited', 'restarting', 'starting', 'running', 'completed'];
  for (let i = 1; i < path.length; i++) t.true(canTransition(path[i - 1]!, path[i]!), `${path[i - 1]} → ${path[i]}`);
});

test('terminal states are completed, failed, lost and stopped, and have no way out', (t) => {
  t.deepEqual(TASK_STATES.filter(isTerminal), ['completed', 'failed', 'lost', 'stopped']);
  for (const s of TASK_STATES.filter(isTerminal)) t.deepEqual(TRANSITIONS[s], []);
});

test('canReach: a state that follows through unreported moves (exited → running: a restart), never out of a terminal state, never back to pending or assigned', (t) => {
  t.true(canReach('exited', 'running'));
  t.true(canReach('exited', 'starting'));
  t.true(canReach('running', 'starting'), 'running, then exited and restarted');
  t.true(canReach('unknown', 'running'));
  for (const from of TASK_STATES) {
    for (const to of TASK_STATES) {
      if (canTransition(from, to)) t.true(canReach(from, to), `${from} → ${to} is one move`);
    }
    t.false(canReach(from, 'pending'));
    if (from !== 'pending') t.false(canReach(from, 'assigned'), `${from} → assigned`);
  }
  for (const from of TASK_STATES.filter(isTerminal)) for (const to of TASK_STATES) t.false(canReach(from, to), `${from} → ${to}`);
});
