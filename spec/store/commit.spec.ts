/**
 * The commit contract of the Store interface: SQLite commits when a write
 * returns (nothing pending, `afterCommit` runs at once) unless group commit
 * is on; a store that commits later (SQLite's group commit, etcd) makes
 * `afterCommit` wait, and a refused commit never runs it.
 */
import test from 'ava';
import { GoatError } from '../../lib/errors.js';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Journal } from '../../lib/manager/journal.js';
import { afterCommit, openSqliteStore } from '../../lib/store/index.js';
import { systemClock } from '../../lib/supervision/index.js';
import { service, task, tempDir, tempStore } from './helpers.js';

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

test('SQLite with group commit: the writes of one turn share one commit; another connection sees them only after it', async (t) => {
  const store = tempStore(t, { groupCommit: true });
  const other = new Database(store.file, { readonly: true });
  t.teardown(() => other.close());
  const count = (): number => (other.prepare('SELECT count(*) AS n FROM services').get() as { n: number }).n;
  store.putService(service('a'), 1);
  store.putService(service('b'), 1);
  store.putTasks([task('a', 0), task('b', 0)]);
  t.true(store.pending, 'not durable yet');
  t.is(store.getService('b')?.name, 'b', 'this connection reads its own writes at once');
  t.is(count(), 0, 'nothing committed yet');
  const order: string[] = [];
  const first = store.committed().then(() => order.push('first'));
  const second = store.committed().then(() => order.push('second'));
  await Promise.all([first, second]);
  t.deepEqual(order, ['first', 'second']);
  t.false(store.pending);
  t.is(count(), 2);
  // A failed transaction inside a group rolls back alone; the group's other writes commit.
  store.putService(service('c'), 1);
  t.throws(() => store.transaction(() => {
    store.putService(service('d'), 1);
    throw new Error('boom');
  }), { message: 'boom' });
  await store.committed();
  t.deepEqual(store.listServices().map((s) => s.name), ['a', 'b', 'c']);
  t.is(count(), 3);
});

test('SQLite with group commit: close commits the open group', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'goat.db');
  const store = openSqliteStore(file, { groupCommit: true });
  store.putService(service('kept'), 1);
  t.true(store.pending);
  store.close();
  const again = openSqliteStore(file);
  t.teardown(() => again.close());
  t.is(again.getService('kept')?.version, 1);
});

test('SQLite with group commit in memory (the simulation): its scheduler commits; a failed commit loses the group and rejects its waiters; a crash drops it', async (t) => {
  const commits: (() => void)[] = [];
  const lost: unknown[] = [];
  const store = openSqliteStore(':memory:', { groupCommit: true, scheduleCommit: (c) => commits.push(c), onLost: (err) => lost.push(err) });
  t.teardown(() => store.close());
  store.putService(service('one'), 1);
  store.putService(service('two'), 1);
  t.is(commits.length, 1, 'one group, one commit scheduled');
  const waited = store.committed();
  commits.shift()?.();
  await waited;
  t.false(store.pending);
  store.putService(service('lost'), 2);
  const failed = store.committed();
  const err = new Error('SQLITE_IOERR');
  store.abortGroup(err);
  await t.throwsAsync(failed, { is: err });
  t.deepEqual(lost, [err]);
  t.is(store.getService('lost'), undefined, 'the failed group was rolled back');
  store.putService(service('crashed'), 3);
  store.abortGroup(); // the process died before its commit
  t.false(store.pending);
  t.is(store.getService('crashed'), undefined);
  t.is(lost.length, 1, 'a crash tells nobody');
  t.deepEqual(store.listServices().map((s) => s.name), ['one', 'two']);
});

test('the journal tells subscribers an event only once its group committed, in log order', async (t) => {
  const store = tempStore(t, { groupCommit: true });
  const journal = new Journal(store, systemClock);
  const heard: string[] = [];
  journal.subscribe((e) => heard.push(`${e.subject}:${e.seq}`));
  journal.tx(() => journal.event('service.created', 'a', {}));
  journal.event('service.created', 'b', {});
  t.deepEqual(heard, [], 'nothing heard before the commit');
  await store.committed();
  await new Promise((r) => setImmediate(r));
  t.deepEqual(heard, ['a:1', 'b:2']);
  // Without group commit, at once.
  const plain = new Journal(tempStore(t), systemClock);
  const now: string[] = [];
  plain.subscribe((e) => now.push(e.subject));
  plain.event('service.created', 'x', {});
  t.deepEqual(now, ['x']);
});
