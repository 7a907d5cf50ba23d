// Names, labels and ids of task instances.
import test from 'ava';
import { isGoatError } from '../../lib/errors.js';
import { checkInstanceId, identityFromLabels, taskLabels } from '../../lib/runtime/identity.js';

test('labels round-trip to the identity; incomplete label sets are not ours', (t) => {
  const identity = { taskId: 'a.0.x', generation: 2, service: 'a', slot: 0, nodeId: 'n', cluster: 'c' };
  t.deepEqual(identityFromLabels(taskLabels(identity)), identity);
  const { 'goat.node': _node, ...partial } = taskLabels(identity);
  t.is(identityFromLabels(partial), undefined);
  t.is(identityFromLabels({ ...taskLabels(identity), 'goat.generation': 'two' }), undefined);
});

test('ids that cannot name a container or a folder are refused', (t) => {
  for (const bad of ['', '../x', 'a/b', '-lead', 'sp ace']) {
    const err = t.throws(() => checkInstanceId(bad, 1));
    t.true(isGoatError(err, 'GOAT_ERR_INVALID_SPEC'), bad);
  }
  t.throws(() => checkInstanceId('ok', -1));
  t.throws(() => checkInstanceId('ok', 1.5));
  t.notThrows(() => checkInstanceId('svc.0.V1StGXR8_Z5jdHi6B-myT', 0));
});
