/**
 * The embedded store: one SQLite file (better-sqlite3) in WAL mode with
 * `synchronous = FULL`. better-sqlite3 is synchronous: a write method runs
 * its statements and COMMIT (which fsyncs the WAL under `synchronous =
 * FULL`) before it returns, so a write is durable once the call returns and
 * a caller may acknowledge right after it.
 *
 * Opening checks the file first and never starts empty on a bad one: a file
 * that is not a SQLite database, fails `PRAGMA integrity_check`, or lacks
 * Goat's `application_id` → GOAT_ERR_STORE_CORRUPT; a schema newer than this
 * code knows → GOAT_ERR_STORE_VERSION; an older one is migrated. A missing
 * file (or an empty SQLite database) is created; a zero-byte file is
 * refused as truncated (GOAT_ERR_STORE_CORRUPT), never started empty.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync, fsyncSync, linkSync, mkdirSync, openSync, closeSync, renameSync, rmSync, statSync, copyFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { GoatError } from '../errors.js';
import { withServiceDefaults, type ClusterEvent, type NodeRecord, type ServiceRecord, type ServiceSpec, type ServiceState, type TaskRecord } from '../model/index.js';
import { ACTIVE_TASKS, GOAT_APPLICATION_ID, SCHEMA_VERSION, migrate } from './migrations.js';
import type { IdempotencyRecord, Store, TaskFilter } from './store.js';

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** How many events the log keeps (the oldest are dropped). @default 10000 */
  maxEvents?: number;
  /** How long a write waits for a lock held by another connection, in ms. @default 5000 */
  busyTimeoutMs?: number;
  /**
   * Group commit: the writes of one turn of the event loop share one
   * transaction, committed (one fsync) as soon as that turn ends. A write
   * then returns before it is durable: `pending` is true until the commit,
   * and whoever acknowledges it waits for `committed()` first, as with etcd.
   * Off, every write is durable when it returns. The manager turns it on
   * (the deterministic simulation too, on ':memory:'). @default false
   */
  groupCommit?: boolean;
  /**
   * With group commit: when a group's commit runs. Called once per group, as
   * it opens, with the function that commits it. The simulation posts it as
   * an event of its scheduler (where faults can strike first). @default setImmediate
   */
  scheduleCommit?: (commit: () => void) => void;
  /**
   * Told when a group failed to commit (its writes were not made, and their
   * waiters were rejected): the manager reconciles from what the store holds.
   */
  onLost?: (err: unknown) => void;
}

/** Defaults of {@link SqliteStoreOptions}. */
export const SQLITE_STORE_DEFAULTS = Object.freeze({ maxEvents: 10_000, busyTimeoutMs: 5_000 });

type DB = Database.Database;

/** SQLite error codes that mean "this file is damaged or not a database". */
function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'));
}

function corrupt(file: string, reason: string, cause?: unknown, problems?: string[]): GoatError {
  return new GoatError(
    'GOAT_ERR_STORE_CORRUPT',
    `store ${file} ${reason}; refusing to start on it. Restore a backup with \`goat-cluster restore FILE\` (or move the file away to start an empty cluster).`,
    { details: { file, reason, ...(problems ? { problems } : {}) }, cause },
  );
}

/** What {@link checkFile} found. */
interface FileFacts {
  /** The file has no Goat schema yet (new, or an empty SQLite database). */
  fresh: boolean;
  /** Its schema version (`user_version`). */
  version: number;
}

/**
 * Checks an open database before anything is written to it: a Goat store
 * (or an empty database), intact, with a schema this code knows. Throws
 * GOAT_ERR_STORE_CORRUPT / GOAT_ERR_STORE_VERSION.
 */
function checkFile(db: DB, file: string): FileFacts {
  let appId: number;
  let version: number;
  let objects: number;
  try {
    appId = db.pragma('application_id', { simple: true }) as number;
    version = db.pragma('user_version', { simple: true }) as number;
    objects = (db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'").get() as { n: number }).n;
  } catch (err) {
    if (isCorruption(err)) throw corrupt(file, 'is not a SQLite database (or its header is damaged)', err);
    throw err;
  }
  const fresh = appId === 0 && version === 0 && objects === 0;
  if (!fresh && appId !== GOAT_APPLICATION_ID) {
    throw corrupt(file, `is a SQLite database but not a Goat store (application_id ${appId}, expected ${GOAT_APPLICATION_ID})`);
  }
  if (!fresh) {
    let problems: string[];
    try {
      problems = (db.pragma('integrity_check(20)') as { integrity_check: string }[]).map((r) => r.integrity_check);
    } catch (err) {
      if (isCorruption(err)) throw corrupt(file, 'failed its integrity check', err);
      throw err;
    }
    if (problems.length !== 1 || problems[0] !== 'ok') throw corrupt(file, 'failed its integrity check', undefined, problems);
  }
  if (version > SCHEMA_VERSION) {
    throw new GoatError(
      'GOAT_ERR_STORE_VERSION',
      `store ${file} has schema version ${version}, but this Goat knows versions up to ${SCHEMA_VERSION}: it was written by a newer Goat. Upgrade Goat, or restore a backup taken by this version with \`goat-cluster restore FILE\`.`,
      { details: { file, version, supported: SCHEMA_VERSION } },
    );
  }
  return { fresh, version };
}

/** Opens `file` for checking and writing; a missing file is created (with its directory). */
function openDatabase(file: string, busyTimeoutMs: number): DB {
  mkdirSync(dirname(file), { recursive: true });
  let db: DB;
  try {
    db = new Database(file, { timeout: busyTimeoutMs });
  } catch (err) {
    if (isCorruption(err)) throw corrupt(file, 'is not a SQLite database', err);
    throw err;
  }
  return db;
}

/** Best-effort fsync of a directory, so a rename in it is durable. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename still happened.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** JSON with object keys sorted, so two equal specs give the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

function checkNonNegativeInt(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `${what}: must be a non-negative integer, got ${String(value)}`, { details: { field: what } });
  }
}

interface ServiceRow { name: string; version: number; spec: string; state: string; created_at: number; updated_at: number }
interface EventRow { seq: number; at: number; type: string; subject: string; data: string }
interface IdempotencyRow { body_hash: string; status: number; response: string; expires_at: number }

function serviceOf(row: ServiceRow): ServiceRecord {
  const state = JSON.parse(row.state) as Partial<ServiceState>;
  if (state.previousSpec) state.previousSpec = withServiceDefaults(state.previousSpec);
  return { ...state, name: row.name, spec: withServiceDefaults(JSON.parse(row.spec) as ServiceSpec), version: row.version, createdAt: row.created_at, updatedAt: row.updated_at };
}

function eventOf(row: EventRow): ClusterEvent {
  return { seq: row.seq, at: row.at, type: row.type, subject: row.subject, data: JSON.parse(row.data) as Record<string, unknown> };
}

class SqliteStore implements Store {
  readonly file: string;
  readonly #db: DB;
  readonly #maxEvents: number;
  readonly #stmt;
  readonly #taskQueries = new Map<string, Database.Statement<unknown[], { record: string }>>();
  readonly #currentQueries = new Map<string, Database.Statement<unknown[], { id: string; record: string }>>();

  /** Group commit on (see {@link SqliteStoreOptions.groupCommit}). */
  readonly #group: boolean;
  /** A group's transaction is open (BEGIN done, COMMIT scheduled). */
  #open = false;
  /** Who waits for the open group's commit. */
  #waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** Told when a group failed to commit. */
  readonly #onLost: ((err: unknown) => void) | undefined;
  /** Schedules a group's commit. */
  readonly #schedule: (commit: () => void) => void;

  constructor(file: string, db: DB, maxEvents: number, groupCommit = false, onLost?: (err: unknown) => void, scheduleCommit?: (commit: () => void) => void) {
    this.file = file;
    this.#db = db;
    this.#maxEvents = maxEvents;
    this.#group = groupCommit;
    this.#onLost = onLost;
    this.#schedule = scheduleCommit ?? ((commit) => setImmediate(commit));
    this.#stmt = {
      getService: db.prepare<[string], ServiceRow>('SELECT * FROM services WHERE name = ?'),
      listServices: db.prepare<[], ServiceRow>('SELECT * FROM services ORDER BY name'),
      insertService: db.prepare<[string, number, string, number, number]>(
        'INSERT INTO services (name, version, spec, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ' +
          'ON CONFLICT (name) DO UPDATE SET version = excluded.version, spec = excluded.spec, updated_at = excluded.updated_at',
      ),
      deleteService: db.prepare<[string]>('DELETE FROM services WHERE name = ?'),
      putServiceState: db.prepare<[string, string]>('UPDATE services SET state = ? WHERE name = ?'),
      // Kept by triggers on tasks (migration 4): a handful of rows, however many tasks.
      countByState: db.prepare<[], { state: string; n: number }>('SELECT state, n FROM task_counts WHERE n > 0 ORDER BY state'),
      // The newest `keep` terminal tasks of each slot stay (tasks_by_service orders them).
      pruneHistory: db.prepare<[string, number]>(
        'DELETE FROM tasks WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY slot ORDER BY generation DESC) AS rn ' +
          `FROM tasks WHERE service = ? AND NOT (${ACTIVE_TASKS})) WHERE rn > ?)`,
      ),
      getTask: db.prepare<[string], { record: string }>('SELECT record FROM tasks WHERE id = ?'),
      // A task's id names its service, slot and generation, and its creation time never changes: an update sets
      // only what does change, so that the indexes on the others (tasks_by_service, tasks_by_created_at) are left alone.
      putTask: db.prepare<[string, string, number, number, string, string | null, string, number]>(
        'INSERT INTO tasks (id, service, slot, generation, state, node, record, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET state = excluded.state, node = excluded.node, record = excluded.record',
      ),
      deleteTask: db.prepare<[string]>('DELETE FROM tasks WHERE id = ?'),
      getNode: db.prepare<[string], { record: string }>('SELECT record FROM nodes WHERE id = ?'),
      listNodes: db.prepare<[], { record: string }>('SELECT record FROM nodes ORDER BY id'),
      putNode: db.prepare<[string, string, string]>(
        'INSERT INTO nodes (id, status, record) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET status = excluded.status, record = excluded.record',
      ),
      insertEvent: db.prepare<[number, string, string, string]>('INSERT INTO events (at, type, subject, data) VALUES (?, ?, ?, ?)'),
      // seq only grows (AUTOINCREMENT): keeping the last N is one range delete on the primary key.
      trimEvents: db.prepare<[number]>('DELETE FROM events WHERE seq <= ?'),
      eventsSince: db.prepare<[number, number], EventRow>('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?'),
      lastSeq: db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'events'"),
      getIdempotency: db.prepare<[string], IdempotencyRow>('SELECT * FROM idempotency WHERE key = ?'),
      putIdempotency: db.prepare<[string, string, number, string, number]>(
        'INSERT INTO idempotency (key, body_hash, status, response, expires_at) VALUES (?, ?, ?, ?, ?) ' +
          'ON CONFLICT (key) DO UPDATE SET body_hash = excluded.body_hash, status = excluded.status, response = excluded.response, expires_at = excluded.expires_at',
      ),
      pruneIdempotency: db.prepare<[number]>('DELETE FROM idempotency WHERE expires_at <= ?'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** True while a group's writes are not yet committed (never without group commit). */
  get pending(): boolean {
    return this.#open;
  }

  /** Resolves once every write made so far is committed; rejects with SQLite's error when their group failed to commit. */
  committed(): Promise<void> {
    if (!this.#open) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Commits the open group first: nothing acknowledged is lost by a clean close. */
  close(): void {
    if (this.#open && this.#db.open) this.#commit();
    if (this.#db.open) this.#db.close();
  }

  transaction<T>(fn: () => T): T {
    // better-sqlite3 runs fn between BEGIN and COMMIT (a SAVEPOINT when nested,
    // as inside a group) and rolls back when it throws; it refuses a fn that
    // returns a Promise.
    return this.#write(() => this.#db.transaction(fn)());
  }

  /**
   * Runs one write: inside the open group with group commit (opening one,
   * its commit scheduled for the end of this turn), else on its own. A
   * write that fails rolls back alone (a statement or a savepoint), unless
   * SQLite rolled back the whole group (disk full, I/O error): then the
   * group's earlier writes are lost too (see {@link #lose}).
   */
  #write<T>(fn: () => T): T {
    if (!this.#group) return fn();
    if (!this.#open) {
      this.#db.exec('BEGIN IMMEDIATE');
      this.#open = true;
      this.#schedule(() => this.#commit());
    }
    try {
      return fn();
    } catch (err) {
      if (!this.#db.inTransaction) this.#lose(err);
      throw err;
    }
  }

  /** Commits the open group and answers its waiters. */
  #commit(): void {
    if (!this.#open || !this.#db.open) return;
    try {
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      this.#lose(err);
      return;
    }
    this.#open = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve();
  }

  /**
   * The simulation's faults on a group commit. With `err`: the open group's
   * COMMIT fails as SQLite's would (rolled back, its waiters rejected with
   * `err`, `onLost` told). Without: the process died before the commit (kill
   * -9): the group is rolled back and nobody is answered (nobody is left).
   * No-op when no group is open.
   */
  abortGroup(err?: unknown): void {
    if (!this.#open || !this.#db.open) return;
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
    if (err !== undefined) return this.#lose(err);
    this.#open = false;
    this.#waiters = [];
  }

  /**
   * A group did not commit: none of its writes was made. Its waiters are
   * rejected with SQLite's error (so nothing of it is acknowledged or acted
   * on: a full disk answers 507), `onLost` is told, and the next write
   * opens a new group.
   */
  #lose(err: unknown): void {
    this.#open = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(err);
    this.#onLost?.(err);
  }

  getService(name: string): ServiceRecord | undefined {
    const row = this.#stmt.getService.get(name);
    return row ? serviceOf(row) : undefined;
  }

  listServices(): ServiceRecord[] {
    return this.#stmt.listServices.all().map(serviceOf);
  }

  putService(spec: ServiceSpec, now: number): ServiceRecord {
    return this.transaction(() => {
      const row = this.#stmt.getService.get(spec.name);
      const text = canonicalJson(spec);
      if (row && row.spec === text) return serviceOf(row);
      const record: ServiceRecord = row
        ? { name: spec.name, spec, version: row.version + 1, createdAt: row.created_at, updatedAt: now }
        : { name: spec.name, spec, version: 1, createdAt: now, updatedAt: now };
      this.#stmt.insertService.run(record.name, record.version, text, record.createdAt, record.updatedAt);
      return serviceOf(this.#stmt.getService.get(spec.name)!);
    });
  }

  putServiceState(name: string, state: Partial<ServiceState>): boolean {
    return this.#write(() => this.#stmt.putServiceState.run(JSON.stringify(state), name).changes > 0);
  }

  deleteService(name: string): boolean {
    return this.#write(() => this.#stmt.deleteService.run(name).changes > 0);
  }

  getTask(id: string): TaskRecord | undefined {
    const row = this.#stmt.getTask.get(id);
    return row ? (JSON.parse(row.record) as TaskRecord) : undefined;
  }

  listTasks(filter: TaskFilter = {}): TaskRecord[] {
    const fields = (['service', 'state', 'node'] as const).filter((f) => filter[f] !== undefined);
    const key = fields.join(',');
    let stmt = this.#taskQueries.get(key);
    if (!stmt) {
      const where = fields.length ? ` WHERE ${fields.map((f) => `${f} = ?`).join(' AND ')}` : '';
      stmt = this.#db.prepare<unknown[], { record: string }>(`SELECT record FROM tasks${where} ORDER BY service, slot, generation, id`);
      this.#taskQueries.set(key, stmt);
    }
    return stmt.all(...fields.map((f) => filter[f])).map((r) => JSON.parse(r.record) as TaskRecord);
  }

  listActiveTasks(filter: Omit<TaskFilter, 'state'> = {}): TaskRecord[] {
    const fields = (['service', 'node'] as const).filter((f) => filter[f] !== undefined);
    const key = `active:${fields.join(',')}`;
    let stmt = this.#taskQueries.get(key);
    if (!stmt) {
      const where = [ACTIVE_TASKS, ...fields.map((f) => `${f} = ?`)].join(' AND ');
      stmt = this.#db.prepare<unknown[], { record: string }>(`SELECT record FROM tasks INDEXED BY tasks_active WHERE ${where} ORDER BY service, slot, generation, id`);
      this.#taskQueries.set(key, stmt);
    }
    return stmt.all(...fields.map((f) => filter[f])).map((r) => JSON.parse(r.record) as TaskRecord);
  }

  listCurrentTasks(service: string, createdSince: number): TaskRecord[] {
    const q = (key: string, sql: string): Database.Statement<unknown[], { id: string; record: string }> => {
      let stmt = this.#currentQueries.get(key);
      if (!stmt) this.#currentQueries.set(key, (stmt = this.#db.prepare<unknown[], { id: string; record: string }>(sql)));
      return stmt;
    };
    // Three indexed reads: live tasks (tasks_active), each slot's newest generation when it is finished (tasks_by_service), created since (tasks_by_created_at).
    const rows = [
      ...q('active', `SELECT id, record FROM tasks INDEXED BY tasks_active WHERE ${ACTIVE_TASKS} AND service = ?`).all(service),
      ...q('newest', `SELECT t.id, t.record FROM (SELECT slot, MAX(generation) AS g FROM tasks WHERE service = @service GROUP BY slot) AS m
        JOIN tasks AS t ON t.service = @service AND t.slot = m.slot AND t.generation = m.g WHERE NOT (${ACTIVE_TASKS})`).all({ service }),
      ...q('created', 'SELECT id, record FROM tasks INDEXED BY tasks_by_created_at WHERE service = ? AND created_at >= ?').all(service, createdSince),
    ];
    const byId = new Map<string, TaskRecord>();
    for (const r of rows) if (!byId.has(r.id)) byId.set(r.id, JSON.parse(r.record) as TaskRecord);
    return [...byId.values()].sort((a, b) => a.slot - b.slot || a.generation - b.generation || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  countTasksByState(): Record<string, number> {
    return Object.fromEntries(this.#stmt.countByState.all().map((r) => [r.state, r.n]));
  }

  pruneTaskHistory(service: string, keep: number): number {
    checkNonNegativeInt(keep, 'keep');
    return this.#write(() => this.#stmt.pruneHistory.run(service, keep).changes);
  }

  putTasks(tasks: TaskRecord[]): void {
    this.transaction(() => {
      for (const t of tasks) this.#stmt.putTask.run(t.id, t.service, t.slot, t.generation, t.state, t.node, JSON.stringify(t), t.createdAt);
    });
  }

  deleteTasks(ids: string[]): void {
    this.transaction(() => {
      for (const id of ids) this.#stmt.deleteTask.run(id);
    });
  }

  getNode(id: string): NodeRecord | undefined {
    const row = this.#stmt.getNode.get(id);
    return row ? (JSON.parse(row.record) as NodeRecord) : undefined;
  }

  listNodes(): NodeRecord[] {
    return this.#stmt.listNodes.all().map((r) => JSON.parse(r.record) as NodeRecord);
  }

  putNode(node: NodeRecord): void {
    this.#write(() => this.#stmt.putNode.run(node.id, node.status, JSON.stringify(node)));
  }

  appendEvents(events: Omit<ClusterEvent, 'seq'>[]): ClusterEvent[] {
    if (events.length === 0) return [];
    return this.transaction(() => {
      const out: ClusterEvent[] = [];
      for (const e of events) {
        const data = JSON.stringify(e.data ?? {});
        const seq = Number(this.#stmt.insertEvent.run(e.at, e.type, e.subject, data).lastInsertRowid);
        out.push({ seq, at: e.at, type: e.type, subject: e.subject, data: JSON.parse(data) as Record<string, unknown> });
      }
      const last = out.at(-1)?.seq;
      if (last !== undefined) this.#stmt.trimEvents.run(last - this.#maxEvents);
      return out;
    });
  }

  eventsSince(seq: number, limit?: number): ClusterEvent[] {
    if (limit !== undefined) checkNonNegativeInt(limit, 'limit');
    return this.#stmt.eventsSince.all(seq, limit ?? -1).map(eventOf);
  }

  lastEventSeq(): number {
    return this.#stmt.lastSeq.get()?.seq ?? 0;
  }

  getIdempotency(key: string, now: number): IdempotencyRecord | undefined {
    const row = this.#stmt.getIdempotency.get(key);
    if (!row || row.expires_at <= now) return undefined;
    return { bodyHash: row.body_hash, status: row.status, response: JSON.parse(row.response) as unknown };
  }

  putIdempotency(key: string, rec: IdempotencyRecord, expiresAt: number): void {
    this.#write(() => this.#stmt.putIdempotency.run(key, rec.bodyHash, rec.status, JSON.stringify(rec.response) ?? 'null', expiresAt));
  }

  pruneIdempotency(now: number): number {
    return this.#write(() => this.#stmt.pruneIdempotency.run(now).changes);
  }

  getMeta(key: string): string | undefined {
    return this.#stmt.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.#write(() => this.#stmt.setMeta.run(key, value));
  }

  async backup(file: string): Promise<void> {
    this.#commit(); // the copy holds every write made so far
    const target = resolve(file);
    mkdirSync(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await this.#db.backup(tmp);
      // The copy is written and closed by SQLite (its commit fsyncs it); make it appear whole.
      renameSync(tmp, target);
      syncDir(dirname(target));
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}

/**
 * Opens (or creates) the SQLite store in `file`. Checks it first: a damaged
 * or foreign file → GOAT_ERR_STORE_CORRUPT, a newer schema →
 * GOAT_ERR_STORE_VERSION; an older schema is migrated in one transaction.
 */
export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Store & { abortGroup(err?: unknown): void } {
  const maxEvents = options.maxEvents ?? SQLITE_STORE_DEFAULTS.maxEvents;
  const busyTimeoutMs = options.busyTimeoutMs ?? SQLITE_STORE_DEFAULTS.busyTimeoutMs;
  if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `store options: maxEvents must be an integer ≥ 1, got ${String(maxEvents)}`, { details: { field: 'maxEvents' } });
  }
  checkNonNegativeInt(busyTimeoutMs, 'busyTimeoutMs');
  // ':memory:' is SQLite's in-memory database (the deterministic simulation): no file, gone on close.
  const path = file === ':memory:' ? file : resolve(file);
  // A zero-byte store is a truncated one (a new store is created with a header at once): never start it empty.
  if (path !== ':memory:' && existsSync(path) && statSync(path).size === 0) throw corrupt(path, 'is empty (zero bytes): it was truncated');
  const db = path === ':memory:' ? new Database(':memory:') : openDatabase(path, busyTimeoutMs);
  try {
    const facts = checkFile(db, path);
    // Only now, with the file known good, does anything write to it.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    if (facts.version < SCHEMA_VERSION) migrate(db, facts.version);
    return new SqliteStore(path, db, maxEvents, options.groupCommit === true, options.onLost, options.scheduleCommit);
  } catch (err) {
    db.close();
    if (isCorruption(err)) throw corrupt(path, 'is damaged', err);
    throw err;
  }
}

/**
 * Replaces the store `dbFile` with the backup `backupFile`, after checking
 * the backup (a SQLite file, intact, a Goat store, a schema this code knows)
 * on a copy: a bad backup → GOAT_ERR_STORE_CORRUPT / GOAT_ERR_STORE_VERSION
 * and `dbFile` is left untouched. The replaced store, if any, is kept beside
 * as `<dbFile>.replaced-<time>` (with its `-wal`). Run it while no process
 * has `dbFile` open (it does not check).
 */
export async function restoreSqliteStore(backupFile: string, dbFile: string): Promise<void> {
  const source = resolve(backupFile);
  const target = resolve(dbFile);
  statSync(source); // a missing backup fails here, with the fs error
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.restore-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    // Check a copy, so the backup itself is never written to (opening a WAL file writes beside it).
    copyFileSync(source, tmp);
    const db = openDatabase(tmp, SQLITE_STORE_DEFAULTS.busyTimeoutMs);
    try {
      const facts = checkFile(db, source);
      if (facts.fresh) throw corrupt(source, 'is an empty database, not a Goat store backup');
      db.pragma('journal_mode = DELETE'); // a single self-contained file
    } catch (err) {
      if (isCorruption(err)) throw corrupt(source, 'is damaged', err);
      throw err;
    } finally {
      db.close();
    }
    const fd = openSync(tmp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // Keep the replaced store (main file + its WAL, which must not be replayed onto the restored file).
    const aside = `${target}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    if (existsSync(`${target}-wal`)) renameSync(`${target}-wal`, `${aside}-wal`);
    rmSync(`${target}-shm`, { force: true });
    if (existsSync(target)) linkSync(target, aside);
    renameSync(tmp, target);
    syncDir(dirname(target));
  } finally {
    rmSync(tmp, { force: true });
    rmSync(`${tmp}-wal`, { force: true });
    rmSync(`${tmp}-shm`, { force: true });
    rmSync(`${tmp}-journal`, { force: true });
  }
}
