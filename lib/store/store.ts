/**
 * The manager's durable state as an interface: services, tasks, nodes, the
 * bounded event log, Idempotency-Key results and a few metadata strings.
 * Reads and writes are synchronous calls. With SQLite a write is committed
 * (durable) when its method returns. A store on a remote engine (etcd) may
 * apply a write to its in-memory view at once and commit it shortly after:
 * whoever acknowledges a write or sends a command derived from it first
 * waits for {@link Store.committed} (see {@link afterCommit}). SQLite's
 * `committed()` resolves at once and its `pending` is always false.
 */
import type { ClusterEvent, NodeRecord, ServiceRecord, ServiceSpec, ServiceState, TaskRecord } from '../model/index.js';

/** Which tasks {@link Store.listTasks} returns; every given field must match. */
export interface TaskFilter {
  service?: string;
  state?: string;
  node?: string;
}

/** The result remembered for an Idempotency-Key. */
export interface IdempotencyRecord {
  /** Hash of the request body the key was first used with. */
  bodyHash: string;
  /** HTTP status of the original answer. */
  status: number;
  /** The original answer's body (JSON-safe; `undefined` is kept as `null`). */
  response: unknown;
}

/** The manager's durable state. Every write is committed when the method returns. */
export interface Store {
  /** Where the store lives: its file (SQLite), or `etcd://host:port,…/prefix`. */
  readonly file: string;
  /**
   * True while some write made through this store is not yet durable
   * (always false for SQLite, whose writes are committed when they return).
   */
  readonly pending: boolean;
  /**
   * Resolves once every write made so far is durable. Rejects with a
   * GoatError (GOAT_ERR_NOT_READY) when one of them was refused — e.g. an
   * etcd store whose leadership (epoch) was lost: it then refuses every later
   * write too, and the caller must not acknowledge or act on the write.
   */
  committed(): Promise<void>;
  /** Closes the store; later calls throw. Idempotent. */
  close(): void;
  /**
   * Runs `fn` (synchronous) in one transaction: every write inside commits
   * together when `fn` returns, and none does when it throws (the error is
   * re-thrown). Transactions nest (savepoints).
   */
  transaction<T>(fn: () => T): T;

  /** The service called `name`, if any. */
  getService(name: string): ServiceRecord | undefined;
  /** All services, by name. */
  listServices(): ServiceRecord[];
  /**
   * Creates the service (version 1) or updates it: its version goes up by one
   * only when the spec changed; an identical spec returns the stored record
   * unchanged.
   */
  putService(spec: ServiceSpec, now: number): ServiceRecord;
  /** Replaces the service's state (previous spec, rollout, status); its spec and version stay. False when there is no such service. */
  putServiceState(name: string, state: Partial<ServiceState>): boolean;
  /** Deletes the service (not its tasks); false when there was none. */
  deleteService(name: string): boolean;

  /** The task with this id, if any. */
  getTask(id: string): TaskRecord | undefined;
  /** Tasks matching `filter`, ordered by service, slot, generation, id. */
  listTasks(filter?: TaskFilter): TaskRecord[];
  /**
   * Tasks not in a terminal state matching `filter` (same order as
   * {@link listTasks}); indexed, so its cost does not grow with the history.
   */
  listActiveTasks(filter?: Omit<TaskFilter, 'state'>): TaskRecord[];
  /**
   * What one reconcile of `service` reads, not the rest of its history: its
   * tasks not in a terminal state, the newest generation of each of its
   * slots, and those created at or after `createdSince` (the tasks of a
   * rollout in progress). Same order as {@link listTasks}; found through the
   * service's index, only the rows returned are decoded.
   */
  listCurrentTasks(service: string, createdSince: number): TaskRecord[];
  /** How many tasks are in each state (for `/metrics`). */
  countTasksByState(): Record<string, number>;
  /**
   * Keeps at most `keep` terminal tasks per slot of `service` (the highest
   * generations) and deletes the older ones; returns how many were deleted.
   */
  pruneTaskHistory(service: string, keep: number): number;
  /** Inserts or replaces these tasks (by id), all in one transaction. */
  putTasks(tasks: TaskRecord[]): void;
  /** Deletes these tasks; unknown ids are ignored. */
  deleteTasks(ids: string[]): void;

  /** The node with this id, if any. */
  getNode(id: string): NodeRecord | undefined;
  /** All nodes, by id. */
  listNodes(): NodeRecord[];
  /** Inserts or replaces the node (by id). */
  putNode(node: NodeRecord): void;

  /**
   * Appends events, assigning each the next sequence number (increasing,
   * never reused, even after old events were dropped), and drops the oldest
   * beyond `maxEvents`. Returns the events with their `seq`.
   */
  appendEvents(events: Omit<ClusterEvent, 'seq'>[]): ClusterEvent[];
  /** Events with `seq` greater than `seq`, oldest first, at most `limit` of them (all when omitted). */
  eventsSince(seq: number, limit?: number): ClusterEvent[];
  /** The last sequence number given out (0 before the first event). */
  lastEventSeq(): number;

  /** The result stored for this key, unless missing or expired at `now`. */
  getIdempotency(key: string, now: number): IdempotencyRecord | undefined;
  /** Stores (or replaces) the result for this key until `expiresAt` (ms since the epoch). */
  putIdempotency(key: string, rec: IdempotencyRecord, expiresAt: number): void;
  /** Deletes the keys expired at `now`; returns how many. */
  pruneIdempotency(now: number): number;

  /** A metadata string (e.g. the cluster id), if set. */
  getMeta(key: string): string | undefined;
  /** Sets a metadata string. */
  setMeta(key: string, value: string): void;

  /**
   * Writes a consistent copy of the store to `file` while it stays in use
   * (online backup). The copy appears atomically (written beside, then
   * renamed); an existing `file` is replaced.
   */
  backup(file: string): Promise<void>;
}

/**
 * Runs `fn` once every write made so far through `store` is durable: at once
 * (synchronously) when nothing is pending — always so with SQLite, whose path
 * stays as it was — else after {@link Store.committed} resolves. When the
 * commit is refused `fn` never runs and the returned promise rejects with
 * the store's error.
 */
export function afterCommit<T>(store: Pick<Store, 'pending' | 'committed'>, fn: () => Promise<T>): Promise<T> {
  if (!store.pending) return fn();
  return store.committed().then(fn);
}
