import test from 'ava';
import { place, readyFilter } from '../../lib/scheduler/index.js';
import { node, replicas, request } from './helpers.js';

const three = () => [node('a'), node('b'), node('c')];

test('3 replicas on 3 nodes: one per node', (t) => {
  const { placements, unplaced } = place(replicas('web', 3), three());
  t.deepEqual(unplaced, []);
  t.deepEqual(placements.map((p) => p.node).sort(), ['a', 'b', 'c']);
});

test('replicas spread even when their specs are distinct but equal objects', (t) => {
  const reqs = [request('web', 0), request('web', 1), request('web', 2)];
  t.deepEqual(place(reqs, three()).placements.map((p) => p.node).sort(), ['a', 'b', 'c']);
});

test('two services interleaved still spread each over the nodes', (t) => {
  const reqs = [request('web', 0), request('db', 0), request('web', 1), request('db', 1), request('web', 2), request('db', 2)];
  const by = (s: string) => place(reqs, three()).placements.filter((p) => p.taskId.startsWith(s)).map((p) => p.node).sort();
  t.deepEqual(by('web'), ['a', 'b', 'c']);
  t.deepEqual(by('db'), ['a', 'b', 'c']);
});

test('capacity is not overbooked within one call', (t) => {
  const nodes = [node('a', { capacity: { cpus: 2, memoryMb: 1024 } }), node('b', { capacity: { cpus: 2, memoryMb: 1024 } })];
  const { placements, unplaced, table } = place(replicas('web', 5, { resources: { memoryMb: 512 } }), nodes);
  t.is(placements.length, 4);
  t.deepEqual(unplaced.map((u) => u.taskId), ['web.4.t']);
  t.deepEqual(table.map((n) => n.reserved.memoryMb), [1024, 1024]);
  t.is(unplaced[0]!.reason, '0/2 nodes available: 2 insufficient memory (needs 512 MiB)');
});

test('one host port per node: a second task wanting it goes elsewhere, a fourth nowhere', (t) => {
  const reqs = replicas('web', 4, { ports: [{ host: 8080, container: 80 }] });
  const { placements, unplaced, table } = place(reqs, three());
  t.deepEqual(placements.map((p) => p.node).sort(), ['a', 'b', 'c']);
  t.deepEqual(unplaced, [{ taskId: 'web.3.t', reason: '0/3 nodes available: 3 host port in use (needs 8080)' }]);
  t.true(table.every((n) => n.ports.has(8080)));
  const other = place([request('api', 0, { ports: [{ host: 8080, container: 80 }] })], [node('a', { ports: new Set([8080]) }), node('b')]);
  t.deepEqual(other.placements, [{ taskId: 'api.0.t', node: 'b' }]);
});

test('constraints pin tasks to a node or to labelled nodes', (t) => {
  const nodes = [node('a', { labels: { zone: 'eu' } }), node('b', { labels: { zone: 'us' } }), node('c', { labels: { zone: 'eu' } })];
  t.deepEqual(place(replicas('web', 2, { constraints: { node: 'name-b' } }), nodes).placements.map((p) => p.node), ['b', 'b']);
  t.deepEqual(place(replicas('web', 4, { constraints: { labels: { zone: 'eu' } } }), nodes).placements.map((p) => p.node), ['a', 'c', 'a', 'c']);
  t.is(place([request('web', 0, { constraints: { labels: { zone: 'ap' } } })], nodes).unplaced[0]!.reason, '0/3 nodes available: 3 not matching constraints (zone=ap)');
});

test('the unplaced reason counts each node once, for its first refusing filter, most frequent first', (t) => {
  const nodes = [
    node('a', { status: 'down', reserved: { cpus: 0, memoryMb: 4000, diskMb: 0 } }),
    node('b', { reserved: { cpus: 0, memoryMb: 4000, diskMb: 0 } }),
    node('c', { reserved: { cpus: 0, memoryMb: 4000, diskMb: 0 } }),
    node('d', { status: 'draining' }),
    node('e', { ports: new Set([80]) }),
    node('f', { reserved: { cpus: 4, memoryMb: 0, diskMb: 0 } }),
  ];
  const req = request('web', 0, { resources: { cpu: 1, memoryMb: 512 }, ports: [{ host: 80, container: 80 }] });
  t.deepEqual(place([req], nodes).unplaced, [{
    taskId: 'web.0.t',
    reason: '0/6 nodes available: 2 not ready, 2 insufficient memory (needs 512 MiB), 1 insufficient cpu (needs 1), 1 host port in use (needs 80)',
  }]);
  t.is(place([req], []).unplaced[0]!.reason, '0/0 nodes available: no nodes in the cluster');
});

test('every task of a group that cannot be placed gets the reason', (t) => {
  const { unplaced } = place(replicas('web', 3), [node('a', { status: 'suspect' })]);
  t.deepEqual(unplaced.map((u) => u.reason), Array(3).fill('0/1 nodes available: 1 not ready'));
});

test('the input table is left untouched; the result table carries the reservations', (t) => {
  const nodes = three();
  const { table } = place(replicas('web', 4, { resources: { cpu: 1, memoryMb: 256 }, ports: [{ container: 80 }] }), nodes);
  t.true(nodes.every((n) => n.tasks === 0 && n.reserved.cpus === 0 && n.serviceTasks.size === 0));
  t.deepEqual(table.map((n) => [n.id, n.tasks, n.reserved.cpus, n.reserved.memoryMb, n.serviceTasks.get('web')]), [['a', 2, 2, 512, 2], ['b', 1, 1, 256, 1], ['c', 1, 1, 256, 1]]);
});

test('rows are copied only when a task lands on them', (t) => {
  const nodes = three();
  const { table } = place([request('web', 0)], nodes);
  t.not(table[0], nodes[0]);
  t.is(table[1], nodes[1]);
  t.is(table[2], nodes[2]);
});

test('the filters can be chosen', (t) => {
  const full = [node('a', { reserved: { cpus: 0, memoryMb: 4096, diskMb: 0 } })];
  const req = request('web', 0, { resources: { memoryMb: 512 } });
  t.is(place([req], full).placements.length, 0);
  t.deepEqual(place([req], full, { filters: [readyFilter] }).placements, [{ taskId: 'web.0.t', node: 'a' }]);
});

test('deterministic: the same input in any node order gives the same placements', (t) => {
  const reqs = [...replicas('web', 7, { resources: { cpu: 0.5 } }), ...replicas('db', 5, { resources: { memoryMb: 700 } })];
  const make = () => ['e', 'c', 'a', 'd', 'b'].map((id) => node(id));
  const first = place(reqs, make());
  t.deepEqual(place(reqs, make()).placements, first.placements);
  t.deepEqual(place(reqs, make().reverse()).placements, first.placements);
  t.deepEqual(place(reqs, [...make().slice(2), ...make().slice(0, 2)]).placements, first.placements);
  t.deepEqual(first.placements.slice(0, 5).map((p) => p.node), ['a', 'b', 'c', 'd', 'e']);
});

test('a slot that failed on a node avoids it when another fits (node penalty), and takes it when none does', (t) => {
  const avoidA = { ...request('web', 0), avoid: 'a' };
  t.is(place([avoidA], [node('a'), node('b')]).placements[0]?.node, 'b');
  t.is(place([avoidA], [node('a')]).placements[0]?.node, 'a', 'only a fits: a, rather than waiting');
  t.is(place([avoidA], [node('a'), node('b', { status: 'down' })], { filters: [readyFilter] }).placements[0]?.node, 'a');
});
