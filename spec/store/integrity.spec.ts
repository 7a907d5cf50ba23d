/**
 * The store refuses bad files instead of starting empty (damaged, garbage,
 * foreign SQLite, a newer schema), upgrades older ones, and backs up and
 * restores with a check of the backup first.
 */
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { GoatError, isGoatError } from '../../lib/errors.js';
import { GOAT_APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, openSqliteStore, restoreSqliteStore, type Store } from '../../lib/store/index.js';
import { service, task, tempDir } from './helpers.js';

/** A closed store at `file` holding a service and `n` tasks (about 1 KB each). */
function filledStore(file: string, n = 400): void {
  const store = openSqliteStore(file);
  store.putService(service('web'), 1);
  store.putTasks(Array.from({ length: n }, (_, i) => task('web', i, { error: { message: 'x'.repeat(600) } })));
  store.close();
}

/** Overwrites `length` bytes of `file` at `offset` with garbage. */
function overwrite(file: string, offset: number, length: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(length, 0xa5), 0, length, offset);
  } finally {
    closeSync(fd);
  }
}

function openFails(t: ExecutionContext, file: string, code: 'GOAT_ERR_STORE_CORRUPT' | 'GOAT_ERR_STORE_VERSION'): GoatError {
  const err = t.throws(() => openSqliteStore(file));
  t.true(isGoatError(err, code), `expected ${code}, got ${String(err)}`);
  return err as GoatError;
}

function readonly(file: string, fn: (db: Database.Database) => void): void {
  const db = new Database(file);
  try {
    fn(db);
  } finally {
    db.close();
  }
}

test('a file damaged in the middle → GOAT_ERR_STORE_CORRUPT naming the file and the restore command; the file is left as it was', (t) => {
  const file = join(tempDir(t), 'goat.db');
  filledStore(file);
  const size = statSync(file).size;
  t.true(size > 100 * 4096, `size ${size}`);
  const middle = Math.floor(size / 2 / 4096) * 4096;
  overwrite(file, middle, 3 * 4096);
  const before = readFileSync(file);
  const err = openFails(t, file, 'GOAT_ERR_STORE_CORRUPT');
  t.true(err.message.includes(file), err.message);
  t.true(err.message.includes('goat-cluster restore FILE'), err.message);
  t.is(err.details['file'], file);
  t.true(readFileSync(file).equals(before), 'the damaged file is not modified');
  // Still refused the second time: never "repaired" into an empty store.
  openFails(t, file, 'GOAT_ERR_STORE_CORRUPT');
});

test('a damaged header → GOAT_ERR_STORE_CORRUPT', (t) => {
  const file = join(tempDir(t), 'goat.db');
  filledStore(file, 10);
  overwrite(file, 0, 100);
  openFails(t, file, 'GOAT_ERR_STORE_CORRUPT');
});

test('a garbage file and a text file → GOAT_ERR_STORE_CORRUPT, left as they were', (t) => {
  const dir = tempDir(t);
  const garbage = join(dir, 'garbage.db');
  writeFileSync(garbage, randomBytes(64 * 1024));
  const before = readFileSync(garbage);
  openFails(t, garbage, 'GOAT_ERR_STORE_CORRUPT');
  t.true(readFileSync(garbage).equals(before));
  t.false(existsSync(`${garbage}-wal`));
  const text = join(dir, 'text.db');
  writeFileSync(text, 'hello, I am not a database\n');
  openFails(t, text, 'GOAT_ERR_STORE_CORRUPT');
  t.is(readFileSync(text, 'utf8'), 'hello, I am not a database\n');
});

test('a foreign SQLite database → refused (GOAT_ERR_STORE_CORRUPT), untouched', (t) => {
  const dir = tempDir(t);
  const foreign = join(dir, 'other.db');
  readonly(foreign, (db) => db.exec('CREATE TABLE services (name TEXT PRIMARY KEY); INSERT INTO services VALUES (\'x\')'));
  const err = openFails(t, foreign, 'GOAT_ERR_STORE_CORRUPT');
  t.regex(err.message, /not a Goat store/);
  readonly(foreign, (db) => {
    t.is(db.pragma('application_id', { simple: true }), 0);
    t.deepEqual(db.prepare('SELECT name FROM services').all(), [{ name: 'x' }]);
  });
  // Another application's id, even with no tables.
  const other = join(dir, 'other-app.db');
  readonly(other, (db) => db.pragma('application_id = 12345'));
  openFails(t, other, 'GOAT_ERR_STORE_CORRUPT');
});

test('a zero-byte file is refused as truncated and left as it is; an empty SQLite database becomes a new store', (t) => {
  const dir = tempDir(t);
  const empty = join(dir, 'empty.db');
  writeFileSync(empty, '');
  const err = t.throws(() => openSqliteStore(empty), { instanceOf: GoatError });
  t.is(err?.code, 'GOAT_ERR_STORE_CORRUPT');
  t.regex(err?.message ?? '', /zero bytes/);
  t.is(statSync(empty).size, 0);
  const blank = join(dir, 'blank.db');
  readonly(blank, (db) => db.exec('CREATE TABLE x (a); DROP TABLE x'));
  for (const file of [blank]) {
    const store = openSqliteStore(file);
    store.setMeta('k', 'v');
    store.close();
    readonly(file, (db) => {
      t.is(db.pragma('application_id', { simple: true }), GOAT_APPLICATION_ID);
      t.is(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    });
  }
});

test('a version 5 file is migrated: tasks get their created_at column from the record, and reads by creation time find them', (t) => {
  const file = join(tempDir(t), 'goat.db');
  readonly(file, (db) => {
    db.pragma('journal_mode = WAL');
    db.pragma(`application_id = ${GOAT_APPLICATION_ID}`);
    for (const m of MIGRATIONS.slice(0, 5)) m.up(db);
    db.pragma('user_version = 5');
    for (const [slot, createdAt] of [[0, 1_000], [1, 5_000]] as const) {
      const tk = task('web', slot, { node: 'n1', state: 'failed', createdAt });
      db.prepare('INSERT INTO tasks (id, service, slot, generation, state, node, record) VALUES (?, ?, ?, ?, ?, ?, ?)').run(tk.id, 'web', slot, 1, 'failed', 'n1', JSON.stringify(tk));
    }
  });
  const store = openSqliteStore(file);
  t.teardown(() => store.close());
  // Both slots' newest tasks are read anyway; a later third one only through created_at.
  store.putTasks([task('web', 0, { id: 'web.0.g2', generation: 2, state: 'failed', createdAt: 9_000 })]);
  t.deepEqual(store.listCurrentTasks('web', 4_000).map((x) => x.id), ['web.0.g2', 'web.1.abc1']);
  t.deepEqual(store.listCurrentTasks('web', 0).map((x) => x.id), ['web.0.abc0', 'web.0.g2', 'web.1.abc1']);
  store.close();
  readonly(file, (db) => {
    t.is(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    t.deepEqual(db.prepare('SELECT id, created_at FROM tasks ORDER BY id').all(), [
      { id: 'web.0.abc0', created_at: 1_000 }, { id: 'web.0.g2', created_at: 9_000 }, { id: 'web.1.abc1', created_at: 5_000 },
    ]);
    t.falsy(db.prepare("SELECT name FROM sqlite_schema WHERE name = 'tasks_by_created'").get(), 'the expression index is gone');
  });
});

test('a version 1 file is migrated to the current schema, its data kept', (t) => {
  t.true(SCHEMA_VERSION >= 2, 'there is something to migrate');
  const file = join(tempDir(t), 'goat.db');
  // A file as the first release wrote it: migration 1 only.
  readonly(file, (db) => {
    db.pragma('journal_mode = WAL');
    db.pragma(`application_id = ${GOAT_APPLICATION_ID}`);
    MIGRATIONS[0]?.up(db);
    db.pragma('user_version = 1');
    db.prepare('INSERT INTO services (name, version, spec, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run('web', 3, JSON.stringify(service('web')), 1, 2);
    const tk = task('web', 0, { node: 'n1', state: 'running' });
    db.prepare('INSERT INTO tasks (id, service, slot, generation, state, node, record) VALUES (?, ?, ?, ?, ?, ?, ?)').run(tk.id, 'web', 0, 1, 'running', 'n1', JSON.stringify(tk));
    db.prepare('INSERT INTO events (at, type, subject, data) VALUES (1, \'t\', \'s\', \'{}\')').run();
  });
  const store = openSqliteStore(file);
  t.teardown(() => store.close());
  t.is(store.getService('web')?.version, 3);
  t.deepEqual(store.listTasks({ node: 'n1' }).map((x) => x.id), ['web.0.abc0']);
  t.is(store.lastEventSeq(), 1);
  // What migration 2 brought works.
  store.putIdempotency('k', { bodyHash: 'h', status: 201, response: {} }, 10);
  t.is(store.getIdempotency('k', 0)?.status, 201);
  store.close();
  readonly(file, (db) => {
    t.is(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    t.truthy(db.prepare("SELECT name FROM sqlite_schema WHERE name = 'tasks_by_node'").get());
  });
});

test('a file from a newer Goat → GOAT_ERR_STORE_VERSION, untouched', (t) => {
  const file = join(tempDir(t), 'goat.db');
  filledStore(file, 3);
  readonly(file, (db) => db.pragma(`user_version = ${SCHEMA_VERSION + 1}`));
  const err = openFails(t, file, 'GOAT_ERR_STORE_VERSION');
  t.regex(err.message, new RegExp(`schema version ${SCHEMA_VERSION + 1}.*up to ${SCHEMA_VERSION}`));
  t.true(err.message.includes(file));
  t.deepEqual(err.details, { file, version: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION });
  readonly(file, (db) => t.is(db.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1));
});

test('backup while in use, then restore over a changed store: the backup state comes back', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'goat.db');
  const backup = join(dir, 'backups', 'goat-backup.db');
  let store: Store = openSqliteStore(file, { maxEvents: 5 });
  store.putService(service('web'), 1);
  store.putTasks([task('web', 0), task('web', 1)]);
  store.appendEvents([{ at: 1, type: 't', subject: 's', data: {} }]);
  store.setMeta('cluster', 'c1');
  await store.backup(backup);
  // Changes after the backup.
  store.putService(service('web', 7), 2);
  store.deleteTasks(['web.0.abc0']);
  store.putService(service('late'), 3);
  t.is(store.getService('web')?.version, 2, 'the store keeps working after a backup');
  store.close();
  t.deepEqual(readdirSync(join(dir, 'backups')), ['goat-backup.db'], 'no temp file left beside the backup');

  await restoreSqliteStore(backup, file);
  store = openSqliteStore(file, { maxEvents: 5 });
  t.teardown(() => store.close());
  t.is(store.getService('web')?.version, 1);
  t.is(store.getService('web')?.spec.replicas, 2);
  t.is(store.getService('late'), undefined);
  t.deepEqual(store.listTasks().map((x) => x.id), ['web.0.abc0', 'web.1.abc1']);
  t.is(store.lastEventSeq(), 1);
  t.is(store.getMeta('cluster'), 'c1');
  // The replaced store is kept beside, and still opens with its data.
  const aside = readdirSync(dir).filter((f) => f.startsWith('goat.db.replaced-') && !f.endsWith('-wal') && !f.endsWith('-shm'));
  t.is(aside.length, 1);
  const old = openSqliteStore(join(dir, aside[0] ?? ''));
  t.teardown(() => old.close());
  t.truthy(old.getService('late'));
});

test('backup replaces an existing file; restore into a missing store creates it', async (t) => {
  const dir = tempDir(t);
  const store = openSqliteStore(join(dir, 'a.db'));
  t.teardown(() => store.close());
  const backup = join(dir, 'b.db');
  writeFileSync(backup, 'old junk');
  store.setMeta('v', '1');
  await store.backup(backup);
  const target = join(dir, 'new', 'c.db');
  await restoreSqliteStore(backup, target);
  const restored = openSqliteStore(target);
  t.teardown(() => restored.close());
  t.is(restored.getMeta('v'), '1');
  t.deepEqual(readdirSync(join(dir, 'new')).filter((f) => !f.startsWith('c.db')), [], 'no temp files left');
});

test('restore of a damaged, garbage, foreign, empty or missing backup is refused and the store is untouched', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'goat.db');
  filledStore(file, 300);
  const good = join(dir, 'good.db');
  const live = openSqliteStore(file);
  await live.backup(good);
  live.close();
  const damaged = join(dir, 'damaged.db');
  writeFileSync(damaged, readFileSync(good));
  const size = statSync(damaged).size;
  overwrite(damaged, Math.floor(size / 2 / 4096) * 4096, 3 * 4096);
  const garbage = join(dir, 'garbage.db');
  writeFileSync(garbage, randomBytes(32 * 1024));
  const foreign = join(dir, 'foreign.db');
  readonly(foreign, (db) => db.exec('CREATE TABLE t (x)'));
  const empty = join(dir, 'empty.db');
  writeFileSync(empty, '');
  const newer = join(dir, 'newer.db');
  writeFileSync(newer, readFileSync(good));
  readonly(newer, (db) => db.pragma(`user_version = ${SCHEMA_VERSION + 1}`));

  const before = readFileSync(file);
  const listing = readdirSync(dir).sort();
  for (const [bad, code] of [
    [damaged, 'GOAT_ERR_STORE_CORRUPT'],
    [garbage, 'GOAT_ERR_STORE_CORRUPT'],
    [foreign, 'GOAT_ERR_STORE_CORRUPT'],
    [empty, 'GOAT_ERR_STORE_CORRUPT'],
    [newer, 'GOAT_ERR_STORE_VERSION'],
  ] as const) {
    const err = await t.throwsAsync(restoreSqliteStore(bad, file));
    t.true(isGoatError(err, code), `${bad}: ${String(err)}`);
    t.true((err as GoatError).message.includes(bad), (err as GoatError).message);
  }
  await t.throwsAsync(restoreSqliteStore(join(dir, 'missing.db'), file), { code: 'ENOENT' });
  t.true(readFileSync(file).equals(before), 'the store file is untouched');
  t.deepEqual(readdirSync(dir).sort(), listing, 'no file added or removed');
  const store = openSqliteStore(file);
  t.teardown(() => store.close());
  t.is(store.listTasks().length, 300);
});
