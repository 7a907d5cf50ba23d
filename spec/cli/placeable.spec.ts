/** lib/cli/placeable.ts: `run` refuses at once a task no node of the cluster can ever run, and says how to fix it. */
import test from 'ava';
import { checkPlacement } from '../../lib/cli/placeable.js';
import type { NodeStatus } from '../../lib/model/index.js';

const node = (name: string, runtime: 'docker' | 'process', status: NodeStatus = 'ready') => ({ name, runtime, status });

test('a --command on a cluster of Docker nodes is refused, naming them and the two ways out', (t) => {
  const check = checkPlacement({}, [node('local', 'docker'), node('w2', 'docker', 'down')]);
  t.regex(check.refuse ?? '', /^no node can run it: a --command without --image runs on process nodes, and every node runs Docker \(local, w2\)\. Run an image with --image I .*or add a process node \(goat-cluster worker --runtime process/);
  t.is(check.warn, undefined);
});

test('an --image on a cluster of process nodes is refused the same way', (t) => {
  t.regex(checkPlacement({ image: 'goat/echo' }, [node('w1', 'process')]).refuse ?? '', /an --image runs on Docker nodes, and every node runs processes \(w1\)\. Give a --command without --image, or add a Docker node/);
});

test('a node of the right kind, even busy or draining, is enough; all of them down is a warning; no nodes yet is not judged', (t) => {
  t.deepEqual(checkPlacement({}, [node('local', 'docker'), node('w1', 'process', 'draining')]), {});
  t.deepEqual(checkPlacement({ image: 'i' }, [node('local', 'docker', 'suspect')]), {});
  t.deepEqual(checkPlacement({}, [node('local', 'docker'), node('w1', 'process', 'down')]), { warn: 'every process node is down now (w1); its tasks wait for one to come back' });
  t.deepEqual(checkPlacement({}, []), {});
});
