/**
 * lib/store — durable state.
 *
 * - `store.ts`: the {@link Store} interface, the manager's durable state
 *   (services, tasks, nodes, the bounded event log, Idempotency-Key results,
 *   metadata); synchronous, a write is committed when its call returns.
 * - `sqlite.ts` + `migrations.ts`: the embedded implementation, one SQLite
 *   file (better-sqlite3, WAL, `synchronous = FULL`) with versioned schema
 *   migrations, an integrity check at open, online backup and a checked
 *   restore.
 * - `worker-state.ts`: the worker's own state file (its node id, its
 *   assignments, the command ids it applied), a JSON file written atomically.
 */
export type { Store, TaskFilter, IdempotencyRecord } from './store.js';
export { afterCommit } from './store.js';
export { openSqliteStore, restoreSqliteStore, SQLITE_STORE_DEFAULTS, type SqliteStoreOptions } from './sqlite.js';
export { GOAT_APPLICATION_ID, SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations.js';
export { WorkerState, APPLIED_LIMIT, type Assignment } from './worker-state.js';
export { EtcdStore, openEtcdStore, ETCD_LIMITS, type EtcdStoreOptions } from './etcd.js';
