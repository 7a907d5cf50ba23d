/**
 * The leader's store on etcd: the {@link Store} interface (synchronous) over
 * an engine that answers asynchronously.
 *
 * - Reads come from an in-memory mirror of the desired state, loaded at one
 *   etcd revision when the store opens (the manager opens it when it becomes
 *   the leader; it is then the only writer, by the fence below).
 * - A write changes the mirror at once and queues its etcd operations; the
 *   operations of one {@link Store.transaction} are queued together when it
 *   ends (a thrown transaction rolls the mirror back and queues nothing).
 * - One flush at a time sends what is queued (several transactions grouped,
 *   repeated writes of one key coalesced) as etcd Txns guarded by the
 *   leader key's create revision — the **epoch**: `If(create_revision(leader)
 *   == epoch) Then(ops…)`. A deposed leader (paused, partitioned, replaced)
 *   therefore cannot change anything. etcd's limits are respected by
 *   splitting (≤ {@link ETCD_LIMITS.opsPerTxn} operations, ≤
 *   {@link ETCD_LIMITS.bytesPerTxn} bytes per Txn), in order; a group larger
 *   than one Txn is then not atomic, but each Txn is, and all are fenced.
 * - {@link EtcdStore.committed} resolves once everything written before the
 *   call is in etcd; a refused guard fences the store: waiters are rejected
 *   with GOAT_ERR_NOT_READY, later writes throw it, and `onFenced` runs (the
 *   manager stops its leader subtree). A failing etcd (no quorum) is retried
 *   until the store is fenced or closed: nothing is acknowledged meanwhile.
 * - Observed state stays in memory: a node record whose only change is its
 *   usage or last-seen time is not written to etcd.
 *
 * Keys, under `<prefix>/d/`: `s/<service>`, `t/<task id>`, `n/<node id>`,
 * `e/<seq, 16 digits>`, `i/<idempotency key>`, `m/<meta key>`; values JSON.
 * Every Txn also puts `<prefix>/writer` = the epoch that wrote it, so etcd's
 * history shows which leader committed what (`etcdctl watch --rev N`); the
 * store watches that key from the revision it loaded at, and a write by
 * another epoch fences it at once.
 */
import type { Etcd3, Watcher } from 'etcd3';
import { GoatError } from '../errors.js';
import { isTerminal, type ClusterEvent, type NodeRecord, type ServiceRecord, type ServiceSpec, type ServiceState, type TaskRecord } from '../model/index.js';
import { canonicalJson } from './sqlite.js';
import type { IdempotencyRecord, Store, TaskFilter } from './store.js';

/** etcd's limits a flush stays within (etcd 3.4 defaults: --max-txn-ops 128, --max-request-bytes 1.5 MiB). */
export const ETCD_LIMITS = Object.freeze({ opsPerTxn: 128, bytesPerTxn: 1_000_000, maxRequestBytes: 1_572_864 });

/** Options of {@link openEtcdStore}. */
export interface EtcdStoreOptions {
  /** A connected client. The store does not close it. */
  client: Etcd3;
  /** Key prefix of this cluster (no trailing slash). @default 'goat' */
  prefix?: string;
  /** The leader key whose create revision guards every write. @default `<prefix>/leader` */
  leaderKey?: string;
  /** The create revision of the leader key when this manager won: every Txn requires it unchanged. */
  epoch: number;
  /** How many events the log keeps. @default 10000 */
  maxEvents?: number;
  /** How the store is named in `file` (e.g. the endpoints). @default 'etcd' */
  endpoints?: string[];
  /** Called once when a guard is refused (another leader took over). */
  onFenced?: (err: GoatError) => void;
  /** Timeout of one etcd call, ms; a timed-out Txn is retried. @default 2000 */
  callTimeoutMs?: number;
}

type Op = { key: string; value: string | null };

interface Waiter {
  upTo: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const SEQ_DIGITS = 16;
const seqKey = (seq: number): string => String(seq).padStart(SEQ_DIGITS, '0');

/** The end of the range of keys starting with `prefix` (etcd's prefix range). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i] = end[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

function cmp(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A node record without its observed fields: what is worth writing to etcd. */
function nodeDesired(n: NodeRecord): string {
  const { usage: _u, lastSeenAt: _l, ...rest } = n as NodeRecord & { usage?: unknown; lastSeenAt?: unknown };
  return JSON.stringify(rest);
}

/** The etcd-backed {@link Store}; see the module comment. */
export class EtcdStore implements Store {
  readonly file: string;
  readonly epoch: number;
  readonly #client: Etcd3;
  readonly #data: string;
  readonly #leaderKey: string;
  readonly #writerKey: Buffer;
  readonly #maxEvents: number;
  readonly #onFenced: ((err: GoatError) => void) | undefined;
  readonly #callTimeoutMs: number;

  // Records with their JSON text: filters read the object, callers get a copy parsed from the text (~5× cheaper than structuredClone).
  readonly #services = new Map<string, Entry<ServiceRecord>>();
  readonly #tasks = new Map<string, Entry<TaskRecord>>();
  // Indexes of #tasks (kept by #setTask): a service's tasks, the tasks not in a terminal state, how many per state,
  // so that a reconcile, the history's pruning and /metrics cost the same however long the history is.
  readonly #tasksByService = new Map<string, Set<string>>();
  readonly #activeTasks = new Set<string>();
  readonly #taskStates = new Map<string, number>();
  readonly #nodes = new Map<string, Entry<NodeRecord>>();
  readonly #nodeWritten = new Map<string, string>();
  #events: ClusterEvent[] = [];
  #lastSeq = 0;
  readonly #idem = new Map<string, { rec: IdempotencyRecord; expiresAt: number }>();
  readonly #meta = new Map<string, string>();

  #depth = 0;
  #undo: (() => void)[] = [];
  #txOps: Op[] = [];
  #queue: Op[] = [];
  #enqueued = 0;
  #done = 0;
  #waiters: Waiter[] = [];
  #flushing = false;
  #fenced: GoatError | undefined;
  #closed = false;
  #writerWatch: Watcher | null = null;
  /** Txns sent and their operations, for metrics and tests. */
  readonly stats = { txns: 0, ops: 0, retries: 0 };

  constructor(options: EtcdStoreOptions) {
    const prefix = options.prefix ?? 'goat';
    this.#client = options.client;
    this.#data = `${prefix}/d/`;
    this.#leaderKey = options.leaderKey ?? `${prefix}/leader`;
    this.#writerKey = Buffer.from(`${prefix}/writer`);
    this.epoch = options.epoch;
    this.#maxEvents = options.maxEvents ?? 10_000;
    this.#onFenced = options.onFenced;
    this.#callTimeoutMs = options.callTimeoutMs ?? 2_000;
    this.file = `etcd://${(options.endpoints ?? ['etcd']).map((e) => e.replace(/^https?:\/\//, '')).join(',')}/${prefix}`;
  }

  // --- loading -------------------------------------------------------------------

  /**
   * Loads every key under the data prefix at one revision (paged); returns
   * that revision. `serializable`: from the answering member's local copy,
   * which needs no quorum but may be stale (the reads of a follower without
   * a leader).
   */
  async load(options: { serializable?: boolean } = {}): Promise<number> {
    let revision: string | undefined;
    let from: Buffer = Buffer.from(this.#data);
    const end = prefixEnd(this.#data);
    for (;;) {
      const res = await this.#client.kv.range(
        { key: from, range_end: end, limit: 2_000, ...(revision === undefined ? {} : { revision }), ...(options.serializable ? { serializable: true } : {}) },
        { deadline: Date.now() + (options.serializable ? 3_000 : 10_000) },
      );
      revision ??= res.header.revision;
      for (const kv of res.kvs) this.#loadOne(kv.key.toString(), kv.value.toString());
      if (!res.more || res.kvs.length === 0) break;
      from = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    this.#events.sort((a, b) => a.seq - b.seq);
    this.#lastSeq = Math.max(this.#lastSeq, this.#events.at(-1)?.seq ?? 0);
    return Number(revision);
  }

  #loadOne(key: string, value: string): void {
    const rest = key.slice(this.#data.length);
    const kind = rest.slice(0, 2);
    const id = rest.slice(2);
    const v = JSON.parse(value) as unknown;
    switch (kind) {
      case 's/': this.#services.set(id, { v: v as ServiceRecord, text: value }); break;
      case 't/': {
        this.#index(this.#tasks.get(id), -1);
        const e = { v: v as TaskRecord, text: value };
        this.#tasks.set(id, e);
        this.#index(e, 1);
        break;
      }
      case 'n/': this.#nodes.set(id, { v: v as NodeRecord, text: value }); this.#nodeWritten.set(id, nodeDesired(v as NodeRecord)); break;
      case 'e/': this.#events.push(v as ClusterEvent); break;
      case 'i/': this.#idem.set(id, v as { rec: IdempotencyRecord; expiresAt: number }); break;
      case 'm/':
        if (id === '#lastSeq') this.#lastSeq = Math.max(this.#lastSeq, Number(v));
        else this.#meta.set(id, v as string);
        break;
      default: break;
    }
  }

  // --- commit ----------------------------------------------------------------------

  get pending(): boolean {
    return this.#done < this.#enqueued || this.#txOps.length > 0;
  }

  /** Why writes are refused, if they are. */
  get fenced(): GoatError | undefined {
    return this.#fenced;
  }

  committed(): Promise<void> {
    if (this.#fenced) return Promise.reject(this.#fenced);
    if (this.#done >= this.#enqueued) return Promise.resolve();
    if (this.#closed) return Promise.reject(closedBeforeCommit());
    return new Promise((resolve, reject) => this.#waiters.push({ upTo: this.#enqueued, resolve, reject }));
  }

  /** Refuses every later write and rejects the waiters (the election lost the lease, or a guard failed). Idempotent. */
  fence(reason: string): void {
    if (this.#fenced) return;
    this.#fenced = new GoatError('GOAT_ERR_NOT_READY', `this manager is no longer the leader (epoch ${this.epoch}): ${reason}; retry: the new leader answers`, {
      details: { epoch: this.epoch, reason }, temporary: true,
    });
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(this.#fenced);
    this.#stopWatch();
    this.#onFenced?.(this.#fenced);
  }

  /**
   * Watches `<prefix>/writer` from `revision` + 1 (the revision the desired
   * state was loaded at): a Txn committed by another epoch fences the store at
   * once — defense in depth beside the guard of every Txn, which would only
   * find out at this store's next write. Resolves once the watch is set up.
   */
  async watchWriters(revision: number): Promise<void> {
    if (this.#closed || this.#fenced || this.#writerWatch) return;
    const watcher = await this.#client.watch().key(this.#writerKey.toString()).startRevision(String(revision + 1)).create();
    if (this.#closed || this.#fenced) {
      void watcher.cancel().catch(() => undefined);
      return;
    }
    this.#writerWatch = watcher;
    watcher.on('put', (kv) => {
      const writer = kv.value.toString();
      if (writer !== String(this.epoch)) this.fence(`epoch ${writer} committed a write at revision ${String(kv.mod_revision)} (another manager leads)`);
    });
  }

  #stopWatch(): void {
    const w = this.#writerWatch;
    this.#writerWatch = null;
    if (w) void w.cancel().catch(() => undefined);
  }

  /** Stops writing; whoever still waits for a commit is answered (GOAT_ERR_NOT_READY): nothing waits forever. */
  close(): void {
    this.#closed = true;
    this.#stopWatch();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(closedBeforeCommit());
  }

  transaction<T>(fn: () => T): T {
    this.#writable();
    const undoMark = this.#undo.length;
    const opsMark = this.#txOps.length;
    this.#depth++;
    let result: T;
    try {
      result = fn();
    } catch (err) {
      for (const u of this.#undo.splice(undoMark).reverse()) u();
      this.#txOps.length = opsMark;
      throw err;
    } finally {
      this.#depth--;
    }
    if (this.#depth === 0) {
      this.#undo = [];
      if (this.#txOps.length > 0) {
        for (const op of this.#txOps) this.#queue.push(op);
        this.#txOps = [];
        this.#enqueued++;
        this.#kick();
      }
    }
    return result;
  }

  #writable(): void {
    if (this.#closed) throw new GoatError('GOAT_ERR_NOT_READY', 'the etcd store is closed', { temporary: true });
    if (this.#fenced) throw this.#fenced;
  }

  /** Queues one etcd operation of the current transaction; refuses one that could never fit a request. */
  #op(key: string, value: string | null): void {
    const size = Buffer.byteLength(key) + (value === null ? 0 : Buffer.byteLength(value));
    if (size > ETCD_LIMITS.bytesPerTxn) {
      throw new GoatError('GOAT_ERR_INVALID_SPEC', `${key.slice(this.#data.length)}: ${size} bytes is more than etcd takes in one request (${ETCD_LIMITS.bytesPerTxn})`, {
        details: { field: key.slice(this.#data.length), bytes: size },
      });
    }
    this.#txOps.push({ key: this.#data + key, value });
  }

  /** Sets `map[key]` (or deletes it for undefined) in the mirror, remembering how to undo it. */
  #set<V>(map: Map<string, V>, key: string, value: V | undefined): void {
    const had = map.has(key);
    const old = map.get(key);
    this.#undo.push(() => (had ? map.set(key, old as V) : map.delete(key)));
    if (value === undefined) map.delete(key);
    else map.set(key, value);
  }

  /** Sets or deletes a task in the mirror, with its indexes (undone with the transaction). */
  #setTask(id: string, value: Entry<TaskRecord> | undefined): void {
    const old = this.#tasks.get(id);
    this.#index(old, -1);
    this.#set(this.#tasks, id, value);
    this.#index(value, 1);
    this.#undo.push(() => {
      this.#index(value, -1);
      this.#index(old, 1);
    });
  }

  /** Adds (1) or removes (-1) a task entry from the indexes. */
  #index(e: Entry<TaskRecord> | undefined, sign: 1 | -1): void {
    if (!e) return;
    const t = e.v;
    let ids = this.#tasksByService.get(t.service);
    if (sign > 0) {
      if (!ids) this.#tasksByService.set(t.service, (ids = new Set()));
      ids.add(t.id);
      if (!isTerminal(t.state)) this.#activeTasks.add(t.id);
    } else {
      ids?.delete(t.id);
      if (ids?.size === 0) this.#tasksByService.delete(t.service);
      this.#activeTasks.delete(t.id);
    }
    const n = (this.#taskStates.get(t.state) ?? 0) + sign;
    if (n > 0) this.#taskStates.set(t.state, n);
    else this.#taskStates.delete(t.state);
  }

  /** The task entries of one service (its index), of those not in a terminal state, or all. */
  #taskEntries(service: string | undefined, activeOnly: boolean): Entry<TaskRecord>[] {
    const ids = service !== undefined ? this.#tasksByService.get(service) ?? [] : activeOnly ? this.#activeTasks : undefined;
    if (!ids) return [...this.#tasks.values()];
    const out: Entry<TaskRecord>[] = [];
    for (const id of ids) {
      const e = this.#tasks.get(id);
      if (e) out.push(e);
    }
    return out;
  }

  #kick(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#fenced && !this.#closed) {
        const upTo = this.#enqueued;
        const ops = coalesce(this.#queue.splice(0));
        for (const batch of splitOps(ops)) {
          await this.#send(batch);
          if (this.#fenced || this.#closed) return;
        }
        this.#done = upTo;
        const ready = this.#waiters.filter((w) => w.upTo <= upTo);
        this.#waiters = this.#waiters.filter((w) => w.upTo > upTo);
        for (const w of ready) w.resolve();
      }
    } finally {
      this.#flushing = false;
      if (this.#queue.length > 0 && !this.#fenced && !this.#closed) this.#kick();
    }
  }

  /** Sends one guarded Txn, retrying while etcd fails, until it commits or the store is fenced/closed. */
  async #send(batch: Op[]): Promise<void> {
    const req = {
      compare: [{ key: Buffer.from(this.#leaderKey), target: 'Create' as const, result: 'Equal' as const, create_revision: this.epoch }],
      success: [
        ...batch.map((op) => (op.value === null
          ? { request_delete_range: { key: Buffer.from(op.key) } }
          : { request_put: { key: Buffer.from(op.key), value: Buffer.from(op.value) } })),
        // Which epoch wrote this Txn: an audit trail (`etcdctl watch --rev N <prefix>/writer`); splitOps leaves room for it.
        { request_put: { key: this.#writerKey, value: Buffer.from(String(this.epoch)) } },
      ],
    };
    for (let attempt = 0; ; attempt++) {
      if (this.#fenced || this.#closed) return;
      try {
        const res = await this.#client.kv.txn(req, { deadline: Date.now() + this.#callTimeoutMs });
        if (!res.succeeded) {
          this.fence('the leader key changed (another manager leads)');
          return;
        }
        this.stats.txns++;
        this.stats.ops += batch.length;
        return;
      } catch {
        this.stats.retries++;
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
      }
    }
  }

  // --- services ------------------------------------------------------------------

  getService(name: string): ServiceRecord | undefined {
    const s = this.#services.get(name);
    return s ? copy(s) : undefined;
  }

  listServices(): ServiceRecord[] {
    return [...this.#services.values()].sort((a, b) => cmp(a.v.name, b.v.name)).map(copy);
  }

  putService(spec: ServiceSpec, now: number): ServiceRecord {
    return this.transaction(() => {
      const old = this.#services.get(spec.name)?.v;
      const text = canonicalJson(spec);
      if (old && canonicalJson(old.spec) === text) return structuredClone(old);
      const record: ServiceRecord = old
        ? { ...stateOf(old), name: spec.name, spec: JSON.parse(text) as ServiceSpec, version: old.version + 1, createdAt: old.createdAt, updatedAt: now }
        : { name: spec.name, spec: JSON.parse(text) as ServiceSpec, version: 1, createdAt: now, updatedAt: now };
      const json = JSON.stringify(record);
      this.#op(`s/${spec.name}`, json);
      this.#set(this.#services, spec.name, entry<ServiceRecord>(json));
      return JSON.parse(json) as ServiceRecord;
    });
  }

  putServiceState(name: string, state: Partial<ServiceState>): boolean {
    return this.transaction(() => {
      const old = this.#services.get(name)?.v;
      if (!old) return false;
      const json = JSON.stringify({ ...JSON.parse(JSON.stringify(state)) as Partial<ServiceState>, name, spec: old.spec, version: old.version, createdAt: old.createdAt, updatedAt: old.updatedAt });
      this.#op(`s/${name}`, json);
      this.#set(this.#services, name, entry<ServiceRecord>(json));
      return true;
    });
  }

  deleteService(name: string): boolean {
    return this.transaction(() => {
      if (!this.#services.has(name)) return false;
      this.#op(`s/${name}`, null);
      this.#set(this.#services, name, undefined);
      return true;
    });
  }

  // --- tasks -----------------------------------------------------------------------

  getTask(id: string): TaskRecord | undefined {
    const t = this.#tasks.get(id);
    return t ? copy(t) : undefined;
  }

  listTasks(filter: TaskFilter = {}, activeOnly = false): TaskRecord[] {
    const out: Entry<TaskRecord>[] = [];
    for (const e of this.#taskEntries(filter.service, activeOnly)) {
      const t = e.v;
      if (filter.service !== undefined && t.service !== filter.service) continue;
      if (filter.state !== undefined && t.state !== filter.state) continue;
      if (filter.node !== undefined && t.node !== filter.node) continue;
      if (activeOnly && isTerminal(t.state)) continue;
      out.push(e);
    }
    out.sort(({ v: a }, { v: b }) => cmp(a.service, b.service) || a.slot - b.slot || a.generation - b.generation || cmp(a.id, b.id));
    return out.map(copy);
  }

  listActiveTasks(filter: Omit<TaskFilter, 'state'> = {}): TaskRecord[] {
    return this.listTasks(filter, true);
  }

  listCurrentTasks(service: string, createdSince: number): TaskRecord[] {
    const mine = this.#taskEntries(service, false);
    const newest = new Map<number, number>();
    for (const { v: t } of mine) newest.set(t.slot, Math.max(newest.get(t.slot) ?? 0, t.generation));
    return mine
      .filter(({ v: t }) => !isTerminal(t.state) || t.generation === newest.get(t.slot) || t.createdAt >= createdSince)
      .sort(({ v: a }, { v: b }) => a.slot - b.slot || a.generation - b.generation || cmp(a.id, b.id))
      .map(copy);
  }

  countTasksByState(): Record<string, number> {
    return Object.fromEntries(this.#taskStates);
  }

  pruneTaskHistory(service: string, keep: number): number {
    if (!Number.isInteger(keep) || keep < 0) throw new GoatError('GOAT_ERR_INVALID_SPEC', `keep must be a non-negative integer, got ${keep}`, { details: { field: 'keep' } });
    const bySlot = new Map<number, TaskRecord[]>();
    for (const { v: t } of this.#taskEntries(service, false)) {
      if (t.service !== service || !isTerminal(t.state)) continue;
      bySlot.set(t.slot, [...(bySlot.get(t.slot) ?? []), t]);
    }
    const drop = [...bySlot.values()].flatMap((ts) => ts.sort((a, b) => b.generation - a.generation).slice(keep).map((t) => t.id));
    if (drop.length > 0) this.deleteTasks(drop);
    return drop.length;
  }

  putTasks(tasks: TaskRecord[]): void {
    this.transaction(() => {
      for (const t of tasks) {
        const text = JSON.stringify(t);
        this.#op(`t/${t.id}`, text);
        this.#setTask(t.id, entry<TaskRecord>(text));
      }
    });
  }

  deleteTasks(ids: string[]): void {
    this.transaction(() => {
      for (const id of ids) {
        if (!this.#tasks.has(id)) continue;
        this.#op(`t/${id}`, null);
        this.#setTask(id, undefined);
      }
    });
  }

  // --- nodes -----------------------------------------------------------------------

  getNode(id: string): NodeRecord | undefined {
    const n = this.#nodes.get(id);
    return n ? copy(n) : undefined;
  }

  listNodes(): NodeRecord[] {
    return [...this.#nodes.values()].sort((a, b) => cmp(a.v.id, b.v.id)).map(copy);
  }

  putNode(node: NodeRecord): void {
    this.transaction(() => {
      const text = JSON.stringify(node);
      const e = entry<NodeRecord>(text);
      this.#set(this.#nodes, node.id, e);
      const desired = nodeDesired(e.v);
      if (this.#nodeWritten.get(node.id) === desired) return; // only observed fields changed: memory only
      this.#op(`n/${node.id}`, text);
      this.#set(this.#nodeWritten, node.id, desired);
    });
  }

  // --- events ----------------------------------------------------------------------

  appendEvents(events: Omit<ClusterEvent, 'seq'>[]): ClusterEvent[] {
    if (events.length === 0) return [];
    return this.transaction(() => {
      const before = { length: this.#events.length, lastSeq: this.#lastSeq };
      let dropped: ClusterEvent[] = [];
      this.#undo.push(() => {
        this.#events.length = before.length - dropped.length; // this append's events off (the later ones were undone first)
        this.#events.unshift(...dropped);
        this.#lastSeq = before.lastSeq;
      });
      const out: ClusterEvent[] = [];
      let seq = this.#lastSeq;
      for (const e of events) {
        const ev: ClusterEvent = { seq: ++seq, at: e.at, type: e.type, subject: e.subject, data: JSON.parse(JSON.stringify(e.data ?? {})) as Record<string, unknown> };
        out.push(ev);
      }
      // In place (no copy of the whole log per append): the new ones pushed, the oldest beyond maxEvents spliced off.
      for (const ev of out) this.#events.push(ev);
      const drop = Math.max(0, this.#events.length - this.#maxEvents);
      dropped = drop > 0 ? this.#events.splice(0, drop) : [];
      for (const old of dropped) if (old.seq <= before.lastSeq) this.#op(`e/${seqKey(old.seq)}`, null);
      const first = this.#events[0]?.seq ?? 0;
      for (const ev of out) if (ev.seq >= first) this.#op(`e/${seqKey(ev.seq)}`, JSON.stringify(ev));
      this.#op('m/#lastSeq', JSON.stringify(seq));
      this.#lastSeq = seq;
      return out.map((e) => structuredClone(e));
    });
  }

  eventsSince(seq: number, limit?: number): ClusterEvent[] {
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
      throw new GoatError('GOAT_ERR_INVALID_SPEC', `limit: must be a non-negative integer, got ${String(limit)}`, { details: { field: 'limit' } });
    }
    const out: ClusterEvent[] = [];
    for (const e of this.#events) {
      if (e.seq <= seq) continue;
      if (limit !== undefined && out.length >= limit) break;
      out.push(structuredClone(e));
    }
    return out;
  }

  lastEventSeq(): number {
    return this.#lastSeq;
  }

  // --- idempotency, meta -------------------------------------------------------------

  getIdempotency(key: string, now: number): IdempotencyRecord | undefined {
    const r = this.#idem.get(key);
    if (!r || r.expiresAt <= now) return undefined;
    return structuredClone(r.rec);
  }

  putIdempotency(key: string, rec: IdempotencyRecord, expiresAt: number): void {
    this.transaction(() => {
      const v = { rec: { bodyHash: rec.bodyHash, status: rec.status, response: JSON.parse(JSON.stringify(rec.response) ?? 'null') as unknown }, expiresAt };
      this.#op(`i/${key}`, JSON.stringify(v));
      this.#set(this.#idem, key, v);
    });
  }

  pruneIdempotency(now: number): number {
    return this.transaction(() => {
      let n = 0;
      for (const [key, v] of [...this.#idem]) {
        if (v.expiresAt > now) continue;
        this.#op(`i/${key}`, null);
        this.#set(this.#idem, key, undefined);
        n++;
      }
      return n;
    });
  }

  getMeta(key: string): string | undefined {
    return this.#meta.get(key);
  }

  setMeta(key: string, value: string): void {
    this.transaction(() => {
      this.#op(`m/${key}`, JSON.stringify(value));
      this.#set(this.#meta, key, value);
    });
  }

  backup(_file: string): Promise<void> {
    return Promise.reject(new GoatError('GOAT_ERR_NOT_IMPLEMENTED', 'backup of an etcd store: take an etcd snapshot instead (`etcdctl snapshot save FILE`)'));
  }
}

/** A record and its JSON text (what etcd holds). */
interface Entry<V> {
  v: V;
  text: string;
}

/** The entry of a record's JSON text. */
function entry<V>(text: string): Entry<V> {
  return { v: JSON.parse(text) as V, text };
}

/** A copy of an entry's record for a caller (who may change it). */
function copy<V>(e: Entry<V>): V {
  return JSON.parse(e.text) as V;
}

/** Keeps the last operation of each key, in the order of those last operations. */
export function coalesce(ops: Op[]): Op[] {
  const last = new Map<string, Op>();
  for (const op of ops) {
    last.delete(op.key);
    last.set(op.key, op);
  }
  return [...last.values()];
}

/** Splits operations into Txns within etcd's limits, in order. */
export function splitOps(ops: Op[], limits: { opsPerTxn: number; bytesPerTxn: number } = ETCD_LIMITS): Op[][] {
  const out: Op[][] = [];
  let cur: Op[] = [];
  let bytes = 0;
  for (const op of ops) {
    const size = Buffer.byteLength(op.key) + (op.value === null ? 0 : Buffer.byteLength(op.value)) + 16;
    if (cur.length > 0 && (cur.length >= limits.opsPerTxn - 1 || bytes + size > limits.bytesPerTxn)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(op);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * Opens the leader's store: loads the desired state at one revision and
 * watches the writer key from the next one ({@link EtcdStore.watchWriters}).
 */
export async function openEtcdStore(options: EtcdStoreOptions): Promise<EtcdStore> {
  const store = new EtcdStore(options);
  const revision = await store.load();
  try {
    await store.watchWriters(revision);
  } catch (err) {
    store.close();
    throw err;
  }
  return store;
}

/** The state fields of a service record (kept across spec updates, as SQLite's `state` column is). */
function stateOf(r: ServiceRecord): Partial<ServiceState> {
  const { previousSpec, update, status } = r;
  return { ...(previousSpec === undefined ? {} : { previousSpec }), ...(update === undefined ? {} : { update }), ...(status === undefined ? {} : { status }) };
}

/** The answer to a waiter whose write was not known to be committed when the store closed. */
function closedBeforeCommit(): GoatError {
  return new GoatError('GOAT_ERR_NOT_READY', 'the etcd store was closed before this write was known to be committed (it may or may not have been); retry', { temporary: true });
}
