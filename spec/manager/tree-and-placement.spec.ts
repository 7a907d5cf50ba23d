/**
 * The manager's tree and placement, with links attached without a network
 * (Manager.attachLink) and, where time matters, a simulated clock: a deleted
 * service's controller leaves the tree, a service with thousands of
 * unplaceable replicas cannot starve the next one and costs few rounds, a
 * task a node no longer reports is lost and re-placed, and a change of
 * replicas travels API → services/<name> → scheduler → nodes/<id> → link.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager, type ManagerOptions } from '../../actors/manager/manager.js';
import { SimulatedClock, type TreeNode } from '../../lib/supervision/index.js';
import { eventually } from '../runtime/helpers/wait.js';
import { FakeLink, hello } from './helpers/fake-link.js';
import { managerTree } from '../helpers/tree.js';

async function manager(t: { teardown(f: () => Promise<void>): void }, options: Partial<ManagerOptions> = {}): Promise<Manager> {
  const dir = await mkdtemp(join(tmpdir(), 'goat-tree-'));
  const m = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: 'test-token-123456', logger: { info: () => undefined, warn: () => undefined }, ...options });
  t.teardown(async () => {
    await m.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return m;
}

const children = (m: Manager, id: string): TreeNode[] => managerTree(m).children?.find((c) => c.id === id)?.children ?? [];
const sleepCmd = { command: ['sleep', '60'] };

test('3,000 create/delete cycles leave no stopped controllers in the tree', async (t) => {
  const m = await manager(t);
  const started = Date.now();
  for (let i = 0; i < 3_000; i++) {
    await m.putService({ name: `svc-${i % 50}`, replicas: 1, task: sleepCmd });
    await m.deleteService(`svc-${i % 50}`);
  }
  await eventually('controllers gone', () => children(m, 'services').length === 0, 60_000);
  t.log(`3,000 cycles and their clean-up in ${Date.now() - started} ms`);
  t.is(m.listServices().length, 0);
  t.true(m.listTasks({}).every((x) => x.state === 'stopped'));
  t.true(JSON.stringify(m.tree()).length < 5_000, 'the tree stays small');
});

test('a service with 2,001 unplaceable replicas does not starve a later one, and idle rounds back off', async (t) => {
  const clock = new SimulatedClock(1_000_000);
  const m = await manager(t, { clock });
  const link = new FakeLink(hello('n1', [], 2));
  m.attachLink(link);
  await clock.advance(0);
  await m.putService({ name: 'big', replicas: 2_001, task: { ...sleepCmd, resources: { cpu: 8 } } });
  await clock.advance(0);
  await m.putService({ name: 'small', replicas: 1, task: { ...sleepCmd, resources: { cpu: 1 } } });
  for (let i = 0; i < 20 && link.commands.length === 0; i++) await clock.advance(100);
  t.deepEqual(link.commands.map((c) => c.type), ['assign'], 'the later service is placed');
  t.is(m.listTasks({ service: 'small' })[0]?.state, 'assigned');
  // Ten seconds with nothing placeable: rounds back off (50 ms doubling to 5 s) instead of spinning.
  const rounds = async (): Promise<number> => Number(/goat_scheduling_seconds_count (\d+)/.exec((await m.metrics()).body)?.[1] ?? 0);
  const before = await rounds();
  for (let i = 0; i < 100; i++) {
    link.beat();
    await clock.advance(100);
  }
  const during = (await rounds()) - before;
  t.log(`${during} placement rounds in 10 simulated seconds`);
  t.true(during <= 12, `${during} rounds`);
  t.is(m.listTasks({ service: 'big', state: 'pending' }).length, 2_001);
  t.regex(m.listTasks({ service: 'big' })[2_000]?.error?.message ?? '', /cpu/i, 'each unplaced task says why');
});

test('a task its node no longer reports (in a new hello) is lost and its slot re-placed', async (t) => {
  const clock = new SimulatedClock(1_000_000);
  const m = await manager(t, { clock });
  const first = new FakeLink(hello('n1'));
  m.attachLink(first);
  await clock.advance(0);
  await m.putService({ name: 'web', replicas: 1, task: sleepCmd });
  await clock.advance(0);
  const [assigned] = m.listTasks({ service: 'web' });
  t.is(assigned?.state, 'assigned');
  first.report([{ taskId: assigned!.id, service: 'web', slot: 0, generation: 1, state: 'running', restarts: 0 }]);
  await clock.advance(0);
  t.is(m.getTask(assigned!.id)?.state, 'running');
  // The worker comes back with an empty hello: its state file was reset, what it ran is gone.
  first.close(1006, 'gone');
  const second = new FakeLink(hello('n1'));
  m.attachLink(second);
  await clock.advance(0);
  t.is(m.getTask(assigned!.id)?.state, 'lost');
  t.is(m.getTask(assigned!.id)?.error?.code, 'GOAT_ERR_NO_SUCH_TASK');
  const next = m.listTasks({ service: 'web' }).find((x) => x.generation === 2);
  t.is(next?.state, 'assigned', 'the slot is re-placed');
  t.true(second.commands.some((c) => c.type === 'assign' && (c.body as { task: { taskId: string } }).task.taskId === next?.id));
});

test('a change of replicas goes API → services/<name> → scheduler → nodes/<id> → link, one message each', async (t) => {
  const clock = new SimulatedClock(1_000_000);
  const m = await manager(t, { clock });
  const link = new FakeLink(hello('n1'));
  m.attachLink(link);
  await clock.advance(0);
  await m.putService({ name: 'web', replicas: 1, task: sleepCmd });
  await clock.advance(0);
  const handled = (path: string[]): number => {
    let node: TreeNode | undefined = managerTree(m);
    for (const id of path) node = node?.children?.find((c) => c.id === id);
    return node === undefined ? -1 : 0;
  };
  t.is(handled(['services', 'web']), 0, 'the controller is in the tree');
  t.is(handled(['nodes', 'n1']), 0, 'the node actor is in the tree');
  link.commands.length = 0;
  await m.scaleService('web', 3);
  await clock.advance(0);
  t.deepEqual(link.commands.map((c) => c.type), ['assign', 'assign'], 'two more tasks reach the link');
  await m.scaleService('web', 1);
  await clock.advance(0);
  t.deepEqual(link.commands.slice(2).map((c) => c.type), ['stop', 'stop']);
});

test('a deleted service keeps only each slot\'s newest ended task (its generations go on if it is created again) (issue 10)', async (t) => {
  const clock = new SimulatedClock(1_000_000);
  const m = await manager(t, { clock });
  const link = new FakeLink(hello('n1'));
  m.attachLink(link);
  await clock.advance(0);
  await m.putService({ name: 'web', replicas: 2, task: sleepCmd });
  await m.putService({ name: 'kept', replicas: 1, task: sleepCmd });
  await clock.advance(0);
  const [a, b] = m.listTasks({ service: 'web' });
  // History: slot 0 fails once and is re-placed after its backoff.
  link.report([
    { taskId: a!.id, service: 'web', slot: a!.slot, generation: 1, state: 'failed', restarts: 0, error: { message: 'boom' } },
    { taskId: b!.id, service: 'web', slot: b!.slot, generation: 1, state: 'running', restarts: 0 },
  ]);
  await clock.advance(0);
  await clock.advance(2_000);
  t.is(m.listTasks({ service: 'web' }).length, 3, 'a failed task and the slots\' current tasks');
  const kept = m.listTasks({ service: 'kept' });
  t.is(kept.length, 1);
  await m.deleteService('web');
  await clock.advance(0);
  await clock.advance(1_000);
  const left = m.listTasks({ service: 'web' });
  t.deepEqual(left.map((x) => `${x.slot} g${x.generation} ${x.state}`).sort(), ['0 g2 stopped', '1 g1 stopped'], 'only each slot\'s newest ended task is left');
  t.is(children(m, 'services').filter((c) => c.id === 'web').length, 0, 'its controller is gone');
  t.deepEqual(m.listTasks({ service: 'kept' }).map((x) => x.id), kept.map((x) => x.id), 'other services keep theirs');
  // Created again: its slots go on with higher generations.
  await m.putService({ name: 'web', replicas: 2, task: sleepCmd });
  await clock.advance(0);
  t.deepEqual(m.listTasks({ service: 'web' }).filter((x) => x.desired === 'running').map((x) => `${x.slot} g${x.generation}`).sort(), ['0 g3', '1 g2']);
});
