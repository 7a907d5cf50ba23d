import test from 'ava';
import { normalizeServiceSpec, reconcileService, type ServiceRecord, type TaskRecord, type TaskState } from '../../lib/model/index.js';

const svc = (replicas: number, image = 'goat/echo'): ServiceRecord => ({ name: 'web', spec: normalizeServiceSpec({ name: 'web', replicas, task: { image } }), version: 1, createdAt: 0, updatedAt: 0 });
const task = (slot: number, generation: number, state: TaskState = 'running', desired: 'running' | 'stopped' = 'running', image = 'goat/echo'): TaskRecord => ({
  id: `web.${slot}.g${generation}`, service: 'web', slot, generation, node: 'n1', state, desired, restarts: 0, lastExit: null, failure: null, error: null,
  spec: normalizeServiceSpec({ name: 'web', task: { image } }).task, createdAt: 0, updatedAt: 0,
});
let n = 0;
const newId = (s: string, slot: number): string => `${s}.${slot}.new${n++}`;

test('an empty service gets one pending task per slot, generation 1', (t) => {
  const r = reconcileService('web', svc(3), [], 5, newId);
  t.deepEqual(r.create.map((x) => [x.slot, x.generation, x.state, x.node]), [[0, 1, 'pending', null], [1, 1, 'pending', null], [2, 1, 'pending', null]]);
  t.deepEqual(r.stop, []);
});

test('a converged service needs nothing', (t) => {
  t.deepEqual(reconcileService('web', svc(2), [task(0, 1), task(1, 1)], 5, newId), { create: [], stop: [] });
});

test('scale down stops the slots past the replica count', (t) => {
  const r = reconcileService('web', svc(1), [task(0, 1), task(1, 1), task(2, 1)], 5, newId);
  t.deepEqual(r.stop.sort(), ['web.1.g1', 'web.2.g1']);
  t.deepEqual(r.create, []);
});

test('a failed or lost task is replaced by the next generation of its slot', (t) => {
  const r = reconcileService('web', svc(2), [task(0, 1, 'failed'), task(1, 3, 'lost'), task(1, 2, 'stopped', 'stopped')], 5, newId);
  t.deepEqual(r.create.map((x) => [x.slot, x.generation]), [[0, 2], [1, 4]]);
});

test('two live tasks in one slot: the current (highest generation) stays, the stale one stops', (t) => {
  const r = reconcileService('web', svc(1), [task(0, 1), task(0, 2)], 5, newId);
  t.deepEqual(r, { create: [], stop: ['web.0.g1'] });
});

test('a task being stopped does not count as live', (t) => {
  const r = reconcileService('web', svc(1), [task(0, 1, 'running', 'stopped')], 5, newId);
  t.deepEqual(r.create.map((x) => x.generation), [2]);
});

test('a changed spec replaces each task with the next generation', (t) => {
  const r = reconcileService('web', svc(1, 'goat/echo:v2'), [task(0, 1)], 5, newId);
  t.deepEqual(r.stop, ['web.0.g1']);
  t.deepEqual(r.create.map((x) => [x.generation, x.spec.image]), [[2, 'goat/echo:v2']]);
});

test('a deleted service stops all its live tasks', (t) => {
  t.deepEqual(reconcileService('web', undefined, [task(0, 1), task(1, 1, 'completed')], 5, newId), { create: [], stop: ['web.0.g1'] });
});
