import test from 'ava';
import { normalizeTaskSpec, type NodeRecord, type TaskState } from '../../lib/model/index.js';
import { buildNodeTable } from '../../lib/scheduler/index.js';

const record = (id: string, over: Partial<NodeRecord> = {}): NodeRecord => ({
  id, name: `name-${id}`, status: 'ready', labels: { zone: 'eu' }, capacity: { cpus: 4, memoryMb: 4096, diskFreeMb: 1000 },
  usage: { tasks: 0, memoryMb: 0, cpuSeconds: 0 }, runtime: 'docker', lastSeenAt: 0, createdAt: 0, updatedAt: 0, ...over,
});
const spec = normalizeTaskSpec({ image: 'x', resources: { cpu: 0.5, memoryMb: 256, diskMb: 10 }, ports: [{ host: 8080, container: 80 }, { container: 81 }] });
const task = (node: string | null, state: TaskState, desired: 'running' | 'stopped' = 'running', service = 'web') => ({ node, service, spec, desired, state });

test('the table sums what the non-terminal tasks of each node hold', (t) => {
  const table = buildNodeTable([record('a'), record('b')], [
    task('a', 'running'), task('a', 'starting', 'running', 'db'), task('a', 'failed'), task('a', 'stopped'),
    task('b', 'pending'), task(null, 'pending'), task('zz', 'running'),
  ]);
  const a = table.find((n) => n.id === 'a')!;
  t.deepEqual(a.reserved, { cpus: 1, memoryMb: 512, diskMb: 20 });
  t.deepEqual([...a.ports], [8080]);
  t.is(a.tasks, 2);
  t.deepEqual([...a.serviceTasks], [['web', 1], ['db', 1]]);
  t.deepEqual(a.capacity, { cpus: 4, memoryMb: 4096, diskFreeMb: 1000 });
  t.deepEqual(a.labels, { zone: 'eu' });
  const b = table.find((n) => n.id === 'b')!;
  t.is(b.tasks, 1);
});

test('a task being stopped still holds its resources and port but does not count for spreading', (t) => {
  const [a] = buildNodeTable([record('a')], [task('a', 'running', 'stopped')]);
  t.is(a!.reserved.memoryMb, 256);
  t.true(a!.ports.has(8080));
  t.is(a!.tasks, 0);
  t.is(a!.serviceTasks.size, 0);
});
