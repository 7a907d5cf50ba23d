/** transport/remote-tree.ts: a tree survives flatten → frames → build; deltas carry only changes, at most one per interval (simulated clock). */
import test from 'ava';
import { SimulatedClock, type TreeNode } from '../../lib/supervision/index.js';
import { decodeFrame, encodeFrame } from '../../transport/frames.js';
import { build, diff, flatten, RemoteTree, TreePublisher } from '../../transport/remote-tree.js';

const leaf = (path: string, extra: Partial<TreeNode> = {}): TreeNode => ({ id: path.split('/').at(-1)!, path, kind: 'worker', status: 'running', restarts: 0, nextRestartAt: null, lastError: null, ...extra });
const tree = (tasks: TreeNode[]): TreeNode => ({
  ...leaf('/cluster/worker'), kind: 'supervisor', strategy: 'rest_for_one',
  children: [leaf('/cluster/worker/runtime'), { ...leaf('/cluster/worker/tasks'), kind: 'supervisor', strategy: 'one_for_one', children: tasks }, leaf('/cluster/worker/link')],
});

test('flatten then build gives the same tree, sibling order kept', (t) => {
  const original = tree([leaf('/cluster/worker/tasks/b'), leaf('/cluster/worker/tasks/a', { status: 'restarting', restarts: 2, nextRestartAt: 5, lastError: { name: 'Error', message: 'exited with code 3' } })]);
  t.deepEqual(build(flatten(original)), original);
});

test('a delta carries the changed and removed nodes only', (t) => {
  const before = flatten(tree([leaf('/cluster/worker/tasks/a'), leaf('/cluster/worker/tasks/b')]));
  const after = flatten(tree([leaf('/cluster/worker/tasks/a', { status: 'restarting', restarts: 1 })]));
  const d = diff(before, after);
  t.deepEqual(d.upserts.map((n) => n.path), ['/cluster/worker/tasks/a']);
  t.deepEqual(d.removes, ['/cluster/worker/tasks/b']);
});

test('the publisher sends a snapshot, then rate-limited deltas; the manager side rebuilds the same tree from the decoded frames', async (t) => {
  const clock = new SimulatedClock(1_000);
  let current = tree([leaf('/cluster/worker/tasks/a')]);
  const remote = new RemoteTree();
  const sent: string[] = [];
  const publisher = new TreePublisher({
    tree: () => current, clock, minIntervalMs: 250,
    send: (type, body) => {
      const frame = decodeFrame(encodeFrame(type, body as never), 'toManager');
      if (frame instanceof Error || (frame.type !== 'tree_snapshot' && frame.type !== 'tree_delta')) throw new Error('bad frame');
      sent.push(frame.type);
      if (frame.type === 'tree_snapshot') remote.apply('tree_snapshot', frame.body);
      else remote.apply('tree_delta', frame.body);
      return true;
    },
  });
  publisher.snapshot();
  t.deepEqual(remote.tree(), current);
  for (let i = 1; i <= 10; i++) {
    current = tree([leaf('/cluster/worker/tasks/a', { restarts: i, status: 'restarting' })]);
    publisher.changed();
    await clock.advance(50);
  }
  t.deepEqual(sent, ['tree_snapshot', 'tree_delta', 'tree_delta'], '10 changes in 500 ms: at most one delta per 250 ms');
  await clock.advance(250);
  t.deepEqual(remote.tree(), current);
  publisher.stop();
});
