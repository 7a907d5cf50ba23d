import test from 'ava';
import { availableFilter, constraintsFilter, explainUnplaced, cpuFilter, DEFAULT_FILTERS, diskFilter, filtersFor, memoryFilter, portsFilter, readyFilter, runtimeFilter } from '../../lib/scheduler/index.js';
import { node, request } from './helpers.js';

test('ready: only ready nodes pass', (t) => {
  const req = request('web', 0);
  t.true(readyFilter.check(req, node('a')));
  for (const status of ['degraded', 'suspect', 'down', 'draining'] as const) t.false(readyFilter.check(req, node('a', { status })), status);
  t.is(readyFilter.explain(2, req), '2 not ready');
});

test('available: a node that says it takes no tasks refuses every task, and the reason says so', (t) => {
  const req = request('web', 0);
  t.true(availableFilter.check(req, node('a')));
  const locked = { ...node('a', { status: 'degraded' }), unavailable: 'takes no tasks: Docker does not answer' };
  t.false(availableFilter.check(req, locked));
  t.is(explainUnplaced(req, [locked]), '0/1 nodes available: 1 takes no tasks (Docker does not answer there and processes are not allowed: see goat-cluster nodes)');
});

test('cpu: the request fits in capacity minus reserved', (t) => {
  const req = request('web', 0, { resources: { cpu: 1.5 } });
  t.true(cpuFilter.appliesTo!(req));
  t.false(cpuFilter.appliesTo!(request('web', 0)));
  t.true(cpuFilter.check(req, node('a', { reserved: { cpus: 2.5, memoryMb: 0, diskMb: 0 } })));
  t.false(cpuFilter.check(req, node('a', { reserved: { cpus: 3, memoryMb: 0, diskMb: 0 } })));
  t.true(cpuFilter.check(request('web', 0, { resources: { cpu: 0.3 } }), node('a', { capacity: { cpus: 0.1 + 0.2, memoryMb: 1 } })), 'float sums fit exactly');
  t.is(cpuFilter.explain(3, req), '3 insufficient cpu (needs 1.5)');
});

test('memory: the request fits in capacity minus reserved', (t) => {
  const req = request('web', 0, { resources: { memoryMb: 512 } });
  t.true(memoryFilter.check(req, node('a', { reserved: { cpus: 0, memoryMb: 3584, diskMb: 0 } })));
  t.false(memoryFilter.check(req, node('a', { reserved: { cpus: 0, memoryMb: 3585, diskMb: 0 } })));
  t.is(memoryFilter.explain(2, req), '2 insufficient memory (needs 512 MiB)');
});

test('disk: the request fits in free disk minus reserved; unknown free disk passes', (t) => {
  const req = request('web', 0, { resources: { diskMb: 100 } });
  const withDisk = (free: number, reserved: number) => node('a', { capacity: { cpus: 4, memoryMb: 4096, diskFreeMb: free }, reserved: { cpus: 0, memoryMb: 0, diskMb: reserved } });
  t.true(diskFilter.check(req, withDisk(300, 200)));
  t.false(diskFilter.check(req, withDisk(300, 201)));
  t.true(diskFilter.check(req, node('a')));
  t.false(diskFilter.appliesTo!(request('web', 0)));
  t.is(diskFilter.explain(1, req), '1 insufficient disk (needs 100 MiB)');
});

test('ports: a host port already published on the node refuses it; container-only ports do not count', (t) => {
  const req = request('web', 0, { ports: [{ host: 8080, container: 80 }, { container: 9000 }] });
  t.true(portsFilter.check(req, node('a', { ports: new Set([9000]) })));
  t.false(portsFilter.check(req, node('a', { ports: new Set([8080]) })));
  t.false(portsFilter.appliesTo!(request('web', 0, { ports: [{ container: 80 }] })));
  t.is(portsFilter.explain(2, request('web', 0, { ports: [{ host: 80, container: 80 }, { host: 443, container: 443 }] })), '2 host port in use (needs 80, 443)');
});

test('constraints: node by id or name, and every label equal', (t) => {
  const byNode = request('web', 0, { constraints: { node: 'b' } });
  t.true(constraintsFilter.check(byNode, node('b')));
  t.true(constraintsFilter.check(request('web', 0, { constraints: { node: 'name-c' } }), node('c')));
  t.false(constraintsFilter.check(byNode, node('a')));
  const byLabels = request('web', 0, { constraints: { labels: { zone: 'eu', disk: 'ssd' } } });
  t.true(constraintsFilter.check(byLabels, node('a', { labels: { zone: 'eu', disk: 'ssd', extra: 'x' } })));
  t.false(constraintsFilter.check(byLabels, node('a', { labels: { zone: 'eu' } })));
  t.false(constraintsFilter.check(byLabels, node('a', { labels: { zone: 'us', disk: 'ssd' } })));
  t.false(constraintsFilter.appliesTo!(request('web', 0)));
  t.false(constraintsFilter.appliesTo!(request('web', 0, { constraints: { labels: {} } })));
  t.is(constraintsFilter.explain(4, request('web', 0, { constraints: { node: 'b', labels: { zone: 'eu' } } })), '4 not matching constraints (node=b, zone=eu)');
});

test('only the filters that apply to a task run for it; available, ready and runtime always do', (t) => {
  t.deepEqual(filtersFor(request('web', 0), DEFAULT_FILTERS).map((f) => f.name), ['available', 'ready', 'runtime']);
  const full = request('web', 0, { resources: { cpu: 1, memoryMb: 1, diskMb: 1 }, ports: [{ host: 80, container: 80 }], constraints: { node: 'a' } });
  t.deepEqual(filtersFor(full, DEFAULT_FILTERS).map((f) => f.name), ['available', 'ready', 'runtime', 'constraints', 'cpu', 'memory', 'disk', 'ports']);
});

test('runtime: image tasks need a docker node, command-only tasks a process node', (t) => {
  const image = request('web', 0);
  const command = { ...image, spec: { ...image.spec, image: undefined, command: ['node', 'x.js'] } } as typeof image;
  t.true(runtimeFilter.check(image, node('d', { runtime: 'docker' })));
  t.false(runtimeFilter.check(image, node('p', { runtime: 'process' })));
  t.true(runtimeFilter.check(command, node('p', { runtime: 'process' })));
  t.false(runtimeFilter.check(command, node('d', { runtime: 'docker' })));
  t.is(runtimeFilter.explain(2, image), '2 cannot run images (process runtime)');
  t.is(runtimeFilter.explain(1, command), '1 cannot run commands without an image (docker runtime)');
});
