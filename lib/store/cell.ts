/**
 * The handle through which the manager's parts reach the store that the
 * `store` actor owns. The actor opens a {@link Store} (from its factory) in
 * its init and closes it in its terminate; a restart reopens it from disk.
 * Everyone else holds this cell, which forwards to whichever store is open
 * now, and fails fast (GOAT_ERR_NOT_READY, temporary) while none is.
 *
 * Seam for an async-committing store (etcd): the cell only forwards; it adds
 * no caching or ordering of its own, so a store whose writes commit later
 * keeps exactly the guarantees its own interface states.
 */
import { GoatError } from '../errors.js';
import type { ClusterEvent, NodeRecord, ServiceRecord, ServiceSpec, ServiceState, TaskRecord } from '../model/index.js';
import type { IdempotencyRecord, Store, TaskFilter } from './store.js';

/** Opens a store (e.g. `() => openSqliteStore(file)`, or an in-memory one in a simulation). */
export type StoreFactory = () => Store;

/** A {@link Store} that forwards to the store currently open in it. */
export class StoreCell implements Store {
  #current: Store | null = null;

  constructor(readonly factory: StoreFactory) {}

  /** Opens the store (a no-op when one is open). Throws what the factory throws (a corrupt store, for one). */
  open(): Store {
    this.#current ??= this.factory();
    return this.#current;
  }

  /** Whether a store is open. */
  get isOpen(): boolean {
    return this.#current !== null;
  }

  get #s(): Store {
    if (this.#current === null) throw new GoatError('GOAT_ERR_NOT_READY', 'the store is not open (its actor is restarting)', { temporary: true });
    return this.#current;
  }

  get file(): string {
    return this.#s.file;
  }
  get pending(): boolean {
    return this.#current?.pending ?? false;
  }
  committed(): Promise<void> {
    return this.#current ? this.#current.committed() : Promise.resolve();
  }
  putServiceState(name: string, state: Partial<ServiceState>): boolean {
    return this.#s.putServiceState(name, state);
  }
  listActiveTasks(filter?: Omit<TaskFilter, 'state'>): TaskRecord[] {
    return this.#s.listActiveTasks(filter);
  }
  listCurrentTasks(service: string, createdSince: number): TaskRecord[] {
    return this.#s.listCurrentTasks(service, createdSince);
  }
  countTasksByState(): Record<string, number> {
    return this.#s.countTasksByState();
  }
  pruneTaskHistory(service: string, keep: number): number {
    return this.#s.pruneTaskHistory(service, keep);
  }
  /** Closes the open store, if any; the cell can be opened again. */
  close(): void {
    const s = this.#current;
    this.#current = null;
    s?.close();
  }
  transaction<T>(fn: () => T): T {
    return this.#s.transaction(fn);
  }
  getService(name: string): ServiceRecord | undefined {
    return this.#s.getService(name);
  }
  listServices(): ServiceRecord[] {
    return this.#s.listServices();
  }
  putService(spec: ServiceSpec, now: number): ServiceRecord {
    return this.#s.putService(spec, now);
  }
  deleteService(name: string): boolean {
    return this.#s.deleteService(name);
  }
  getTask(id: string): TaskRecord | undefined {
    return this.#s.getTask(id);
  }
  listTasks(filter?: TaskFilter): TaskRecord[] {
    return this.#s.listTasks(filter);
  }
  putTasks(tasks: TaskRecord[]): void {
    this.#s.putTasks(tasks);
  }
  deleteTasks(ids: string[]): void {
    this.#s.deleteTasks(ids);
  }
  getNode(id: string): NodeRecord | undefined {
    return this.#s.getNode(id);
  }
  listNodes(): NodeRecord[] {
    return this.#s.listNodes();
  }
  putNode(node: NodeRecord): void {
    this.#s.putNode(node);
  }
  appendEvents(events: Omit<ClusterEvent, 'seq'>[]): ClusterEvent[] {
    return this.#s.appendEvents(events);
  }
  eventsSince(seq: number, limit?: number): ClusterEvent[] {
    return this.#s.eventsSince(seq, limit);
  }
  lastEventSeq(): number {
    return this.#s.lastEventSeq();
  }
  getIdempotency(key: string, now: number): IdempotencyRecord | undefined {
    return this.#s.getIdempotency(key, now);
  }
  putIdempotency(key: string, rec: IdempotencyRecord, expiresAt: number): void {
    this.#s.putIdempotency(key, rec, expiresAt);
  }
  pruneIdempotency(now: number): number {
    return this.#s.pruneIdempotency(now);
  }
  getMeta(key: string): string | undefined {
    return this.#s.getMeta(key);
  }
  setMeta(key: string, value: string): void {
    this.#s.setMeta(key, value);
  }
  backup(file: string): Promise<void> {
    return this.#s.backup(file);
  }
}
