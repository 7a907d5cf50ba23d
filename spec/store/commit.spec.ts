/**
 * The commit contract of the Store interface: SQLite commits when a write
 * returns (nothing pending, `afterCommit` runs at once); a store that commits
 * later (etcd) makes `afterCommit` wait, and a refused commit never runs it.
 */
import test from 'ava';
import { GoatError } from '../../lib/errors.js';
import { afterCommit } from '../../lib/store/index.js';
import { service, tempStore } from './helpers.js';

test('SQLite: nothing is ever pending, committed() resolves, afterCommit runs synchronously', async (t) => {
  const store = tempStore(t);
  store.putService(service('web'), 1);
  t.false(store.pending);
  await t.notThrowsAsync(store.committed());
  let ran = false;
  const p = afterCommit(store, async () => {
    ran = true;
    return 7;
  });
  t.true(ran, 'ran before afterCommit returned');
  t.is(await p, 7);
});

test('a store with pending writes: afterCommit waits for the commit; a refused commit never runs fn', async (t) => {
  let release!: () => void;
  let refuse!: (e: unknown) => void;
  const later = { pending: true, committed: () => new Promise<void>((res) => (release = res)) };
  let ran = false;
  const p = afterCommit(later, async () => {
    ran = true;
  });
  await new Promise((r) => setImmediate(r));
  t.false(ran);
  release();
  await p;
  t.true(ran);

  const refused = { pending: true, committed: () => new Promise<void>((_res, rej) => (refuse = rej)) };
  let ran2 = false;
  const p2 = afterCommit(refused, async () => {
    ran2 = true;
  });
  refuse(new GoatError('GOAT_ERR_NOT_READY', 'not the leader'));
  await t.throwsAsync(p2, { message: /not the leader/ });
  t.false(ran2);
});
