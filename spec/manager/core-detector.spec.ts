/** ManagerCore and its failure detector, with fast timings and a fake link: silence, recovery and the restart grace. */
import test from 'ava';
import { ManagerCore, type NodeChannel } from '../../actors/manager/core.js';
import type { ClusterEvent } from '../../lib/model/index.js';
import { eventually } from '../runtime/helpers/wait.js';
import { node, tempStore } from '../store/helpers.js';

const hello = (nodeId: string) => ({ nodeId, name: nodeId, runtime: 'process' as const, capacity: { cpus: 2, memoryMb: 1024 }, labels: {}, tasks: [] });

function fakeChannel(): NodeChannel & { closed: string[] } {
  const closed: string[] = [];
  return { closed, assign: async () => ({ applied: true }), stop: async () => ({ applied: true }), close: (reason) => void closed.push(reason) };
}

function statusLog(core: ManagerCore): string[] {
  const seen: string[] = [];
  core.subscribe((e: ClusterEvent) => void (e.type === 'node.status' && seen.push(`${e.subject}:${String(e.data.status)}`)));
  return seen;
}

test('a linked node that goes silent is suspect, ready again at its next heartbeat, and down (link closed) if silence lasts', async (t) => {
  const core = new ManagerCore({ store: tempStore(t), heartbeatMs: 50, downAfterMs: 300, recoveryGraceMs: 0, checkMs: 10 });
  t.teardown(() => core.close());
  const seen = statusLog(core);
  const a = fakeChannel();
  core.nodeLinked(hello('a'), a);
  await eventually('suspect', () => core.store.getNode('a')?.status === 'suspect', 2_000, 5);
  core.heartbeat('a', { tasks: 0, memoryMb: 0, cpuSeconds: 0 });
  t.is(core.store.getNode('a')?.status, 'ready', 'a heartbeat makes it ready at once');
  await eventually('down', () => core.store.getNode('a')?.status === 'down', 2_000, 5);
  t.deepEqual(seen, ['a:ready', 'a:suspect', 'a:ready', 'a:suspect', 'a:down']);
  t.is(a.closed.length, 1, 'its link is closed: it must say hello again');
  t.false(core.isLinked('a'));
  core.nodeLinked(hello('a'), fakeChannel());
  t.is(core.store.getNode('a')?.status, 'ready', 'a new hello brings it back');
});

test('after a restart, known nodes are suspect and none is declared down during the recovery grace', async (t) => {
  const store = tempStore(t);
  store.putNode(node('old', { status: 'ready' }));
  const started = Date.now();
  const core = new ManagerCore({ store, heartbeatMs: 20, downAfterMs: 100, recoveryGraceMs: 1_000, checkMs: 10 });
  t.teardown(() => core.close());
  t.is(store.getNode('old')?.status, 'suspect');
  await new Promise((r) => setTimeout(r, 300));
  t.is(store.getNode('old')?.status, 'suspect', 'not down during the grace, though silent past the down timeout');
  await eventually('down after the grace', () => store.getNode('old')?.status === 'down', 3_000, 5);
  t.true(Date.now() - started >= 1_000);
});

test('an unlinked node is down counting from its last heartbeat, not from the close', async (t) => {
  const core = new ManagerCore({ store: tempStore(t), heartbeatMs: 100, downAfterMs: 1_000, recoveryGraceMs: 0, checkMs: 10 });
  t.teardown(() => core.close());
  const ch = fakeChannel();
  core.nodeLinked(hello('b'), ch);
  const lastBeat = Date.now();
  await new Promise((r) => setTimeout(r, 700));
  core.nodeUnlinked('b', ch);
  const closedAt = Date.now();
  t.is(core.store.getNode('b')?.status, 'suspect', 'suspect at once');
  await eventually('down', () => core.store.getNode('b')?.status === 'down', 3_000, 5);
  t.log(`down ${Date.now() - lastBeat} ms after its last heartbeat, ${Date.now() - closedAt} ms after the close`);
  t.true(Date.now() - closedAt < 1_000, 'sooner than a full down timeout after the close (due 300 ms after it)');
});
