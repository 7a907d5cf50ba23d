import test from 'ava';
import { binpack, place, spread } from '../../lib/scheduler/index.js';
import { node, replicas, request } from './helpers.js';

test('spread: fewest tasks of the service first, then fewest tasks overall', (t) => {
  const req = request('web', 0);
  const busyOther = node('a', { tasks: 5, serviceTasks: new Map([['db', 5]]) });
  const oneWeb = node('b', { tasks: 1, serviceTasks: new Map([['web', 1]]) });
  const idle = node('c');
  t.true(spread.cost(req, busyOther) < spread.cost(req, oneWeb), 'another service\'s tasks weigh less than one of its own');
  t.true(spread.cost(req, idle) < spread.cost(req, busyOther));
  t.deepEqual(place([req], [oneWeb, busyOther]).placements, [{ taskId: 'web.0.t', node: 'a' }]);
});

test('binpack: the fullest node that still fits first', (t) => {
  const req = request('web', 0, { resources: { cpu: 1, memoryMb: 1024 } });
  const half = node('a', { reserved: { cpus: 2, memoryMb: 2048, diskMb: 0 } });
  const empty = node('b');
  const full = node('c', { reserved: { cpus: 4, memoryMb: 4096, diskMb: 0 } });
  t.true(binpack.cost(req, half) < binpack.cost(req, empty));
  t.deepEqual(place([req], [empty, half, full], { scorer: 'binpack' }).placements, [{ taskId: 'web.0.t', node: 'a' }]);
});

test('binpack fills one node before the next; spread deals them out', (t) => {
  const nodes = [node('a'), node('b'), node('c')];
  const reqs = replicas('web', 4, { resources: { cpu: 1, memoryMb: 1024 } });
  t.deepEqual(place(reqs, nodes, { scorer: binpack }).placements.map((p) => p.node), ['a', 'a', 'a', 'a']);
  t.deepEqual(place(reqs, nodes).placements.map((p) => p.node), ['a', 'b', 'c', 'a']);
});

test('binpack copes with a node reporting no capacity', (t) => {
  const req = request('web', 0);
  t.false(Number.isNaN(binpack.cost(req, node('a', { capacity: { cpus: 0, memoryMb: 0 } }))));
});
