/**
 * The SQLite store's schema, as an ordered list of migrations. The schema
 * version of a file is its `PRAGMA user_version`: the number of migrations
 * applied to it. Rules: a released migration is never edited or removed;
 * a change to the schema is a new migration appended to the list.
 */
import type Database from 'better-sqlite3';

/** One step of the schema: brings a file from version `version - 1` to `version`. */
export interface Migration {
  /** The schema version after this migration (1, 2, …: its position in the list). */
  version: number;
  /** What it changes, for humans. */
  description: string;
  /** Applies it; runs inside the caller's transaction. */
  up(db: Database.Database): void;
}

/**
 * `PRAGMA application_id` of every Goat store: 'GOAT' in ASCII. A SQLite file
 * without it is not a Goat store and is refused.
 */
export const GOAT_APPLICATION_ID = 0x474f4154;

/**
 * The SQL condition of a task not yet finished. Queries that repeat it word
 * for word use the partial index `tasks_active`, so they cost what the live
 * tasks cost, however long the history.
 */
export const ACTIVE_TASKS = "state NOT IN ('completed', 'failed', 'lost', 'stopped')";

/**
 * A task's creation time (ms), as migration 5's `tasks_by_created` index had
 * it. Migration 6 replaced that index (which every write of a record had to
 * recompute) with the `created_at` column, set once when the task is made.
 */
export const TASK_CREATED_AT = "json_extract(record, '$.createdAt')";

/** The migrations, in order. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    description: 'services, tasks, nodes, the event log and metadata',
    up(db: Database.Database): void {
      db.exec(`
        CREATE TABLE meta (
          key   TEXT PRIMARY KEY,
          value TEXT NOT NULL
        ) STRICT;
        CREATE TABLE services (
          name       TEXT PRIMARY KEY,
          version    INTEGER NOT NULL,
          spec       TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE tasks (
          id         TEXT PRIMARY KEY,
          service    TEXT NOT NULL,
          slot       INTEGER NOT NULL,
          generation INTEGER NOT NULL,
          state      TEXT NOT NULL,
          node       TEXT,
          record     TEXT NOT NULL
        ) STRICT;
        CREATE INDEX tasks_by_service ON tasks (service, slot, generation);
        CREATE INDEX tasks_by_state ON tasks (state);
        CREATE TABLE nodes (
          id     TEXT PRIMARY KEY,
          status TEXT NOT NULL,
          record TEXT NOT NULL
        ) STRICT;
        CREATE TABLE events (
          seq     INTEGER PRIMARY KEY AUTOINCREMENT,
          at      INTEGER NOT NULL,
          type    TEXT NOT NULL,
          subject TEXT NOT NULL,
          data    TEXT NOT NULL
        );
      `);
    },
  },
  {
    version: 2,
    description: 'Idempotency-Key results; tasks indexed by node',
    up(db: Database.Database): void {
      db.exec(`
        CREATE TABLE idempotency (
          key        TEXT PRIMARY KEY,
          body_hash  TEXT NOT NULL,
          status     INTEGER NOT NULL,
          response   TEXT NOT NULL,
          expires_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);
        CREATE INDEX tasks_by_node ON tasks (node);
      `);
    },
  },
  {
    version: 3,
    description: "services' state (previous spec, rollout, status); live tasks indexed apart from the history",
    up(db: Database.Database): void {
      db.exec(`
        ALTER TABLE services ADD COLUMN state TEXT NOT NULL DEFAULT '{}';
        CREATE INDEX tasks_active ON tasks (service, slot, generation) WHERE ${ACTIVE_TASKS};
      `);
    },
  },
  {
    version: 4,
    description: 'task counts by state, kept by triggers (/metrics reads them without a scan)',
    up(db: Database.Database): void {
      db.exec(`
        CREATE TABLE task_counts (
          state TEXT PRIMARY KEY,
          n     INTEGER NOT NULL
        ) STRICT;
        INSERT INTO task_counts (state, n) SELECT state, count(*) FROM tasks GROUP BY state;
        CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
          INSERT INTO task_counts (state, n) VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
          UPDATE task_counts SET n = n - 1 WHERE state = OLD.state;
        END;
        CREATE TRIGGER task_counts_update AFTER UPDATE OF state ON tasks WHEN OLD.state IS NOT NEW.state BEGIN
          UPDATE task_counts SET n = n - 1 WHERE state = OLD.state;
          INSERT INTO task_counts (state, n) VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
        END;
      `);
    },
  },
  {
    version: 5,
    description: 'tasks indexed by service and creation time (a reconcile reads a rollout\'s tasks, not the whole history)',
    up(db: Database.Database): void {
      db.exec(`CREATE INDEX tasks_by_created ON tasks (service, ${TASK_CREATED_AT});`);
    },
  },
  {
    version: 6,
    description: "tasks' creation time as a column, indexed by service (a task's state changes no longer rewrite that index)",
    up(db: Database.Database): void {
      db.exec(`
        ALTER TABLE tasks ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
        UPDATE tasks SET created_at = coalesce(${TASK_CREATED_AT}, 0);
        DROP INDEX tasks_by_created;
        CREATE INDEX tasks_by_created_at ON tasks (service, created_at);
      `);
    },
  },
]);

/** The schema version this code writes: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Applies the migrations after `from` up to `to` (default: all), in one
 * transaction together with the new `user_version` (and the application id),
 * so a failed upgrade leaves the file as it was.
 */
export function migrate(db: Database.Database, from: number, to: number = SCHEMA_VERSION): void {
  db.transaction(() => {
    if (from === 0) db.pragma(`application_id = ${GOAT_APPLICATION_ID}`);
    for (const m of MIGRATIONS.slice(from, to)) m.up(db);
    db.pragma(`user_version = ${to}`);
  })();
}
