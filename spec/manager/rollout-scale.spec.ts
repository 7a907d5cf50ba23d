/**
 * A scale (or any change that leaves the task spec as it was) during a
 * rollout, on a real manager on a simulated clock: the rollout goes on with
 * its count, it does not start again, and it ends. Found by the
 * simulation's `rollouts-done` check (CI seeds 19, 35, 50): the rollout
 * stayed at the service's old version, so a scale restarted its count (the
 * next slot was replaced with the last one still in its monitor period) or,
 * with no slot left outdated, left it `updating` for good.
 */
import test from 'ava';
import { SimulatedClock } from '../../lib/supervision/index.js';
import type { ClusterEvent } from '../../lib/model/index.js';
import type { Manager } from '../../actors/manager/manager.js';
import { FakeLink, hello } from './helpers/fake-link.js';
import { drive, drivenManager, reportOf } from './helpers/driven.js';

const command = ['sleep', '60'];

/** A manager with one node running 4 replicas of `web` (v1), then a new spec: the rollout's first new task just placed. */
async function midRollout(t: { teardown(f: () => Promise<void>): void }, update: Record<string, unknown> = {}): Promise<{ clock: SimulatedClock; m: Manager; a: FakeLink; events: ClusterEvent[] }> {
  const clock = new SimulatedClock(1_000_000);
  const m = await drivenManager(t, clock);
  const events: ClusterEvent[] = [];
  m.subscribeEvents((e: ClusterEvent) => void events.push(e));
  const a = new FakeLink(hello('a', [], 16));
  m.attachLink(a);
  await clock.advance(0);
  await m.putService({ name: 'web', replicas: 4, task: { command } });
  await drive(clock, m, a, () => m.listTasks({ service: 'web' }).filter((x) => x.state === 'running').length === 4, 5_000);
  await m.putService({ name: 'web', replicas: 4, task: { command, env: { V: '2' } }, update: { parallelism: 1, monitorMs: 1_000, ...update } });
  await drive(clock, m, a, () => newTasks(m).some((x) => x.state === 'running'), 5_000);
  return { clock, m, a, events };
}

const newTasks = (m: Manager): ReturnType<Manager['listTasks']> => m.listTasks({ service: 'web' }).filter((x) => x.spec.env['V'] === '2' && x.desired === 'running');

test('a scale-up mid-rollout: the rollout goes on at its pace (one slot at a time), does not start again, and completes with every slot on the new spec', async (t) => {
  const { clock, m, a, events } = await midRollout(t);
  t.is(newTasks(m).length, 1, 'slot 0 is being updated');
  await m.scaleService('web', 6);
  await clock.advance(0);
  const s = m.getService('web')!;
  t.like(s.update, { state: 'updating', version: s.version }, 'the rollout follows the service\'s version');
  // The two new slots start on the new spec; no outdated slot is replaced while slot 0 is in its monitor period.
  t.deepEqual(newTasks(m).map((x) => x.slot).sort(), [0, 4, 5]);
  const took = await drive(clock, m, a, () => m.getService('web')?.update?.state === 'completed', 30_000);
  t.is(m.getService('web')?.update?.state, 'completed', `after ${took} ms: ${JSON.stringify(m.getService('web')?.update)}`);
  t.deepEqual(newTasks(m).filter((x) => x.state === 'running').map((x) => x.slot).sort(), [0, 1, 2, 3, 4, 5]);
  t.is(events.filter((e) => e.type === 'update.started').length, 1, 'one rollout');
  t.is(events.filter((e) => e.type === 'update.completed').length, 1);
});

test('a scale to 0 mid-rollout: the rollout completes (it stayed `updating` for good)', async (t) => {
  const { clock, m, a } = await midRollout(t);
  await m.scaleService('web', 0);
  const took = await drive(clock, m, a, () => m.getService('web')?.update?.state === 'completed', 10_000);
  t.is(m.getService('web')?.update?.state, 'completed', `after ${took} ms: ${JSON.stringify(m.getService('web')?.update)}`);
  t.is(m.listTasks({ service: 'web' }).filter((x) => x.desired === 'running').length, 0);
});

test('a scale of a paused rollout leaves it paused; a new task spec starts a rollout again', async (t) => {
  const { clock, m, a, events } = await midRollout(t);
  const [first] = newTasks(m);
  a.report([reportOf(first!, 'failed')]);
  await drive(clock, m, a, () => m.getService('web')?.update?.state === 'paused', 5_000);
  t.is(m.getService('web')?.update?.state, 'paused');
  await m.scaleService('web', 5);
  await drive(clock, m, a, () => false, 5_000);
  const s = m.getService('web')!;
  t.like(s.update, { state: 'paused', version: s.version });
  t.is(m.listTasks({ service: 'web' }).filter((x) => x.desired === 'running' && x.spec.env['V'] === undefined).length, 3, 'slots 1–3 keep the old spec');
  t.is(events.filter((e) => e.type === 'update.started').length, 1);
  await m.putService({ name: 'web', replicas: 5, task: { command, env: { V: '3' } } });
  await clock.advance(0);
  t.like(m.getService('web')?.update, { state: 'updating' });
  t.is(events.filter((e) => e.type === 'update.started').length, 2);
});
