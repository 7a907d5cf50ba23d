/**
 * Leader election on etcd, with fencing by epoch.
 *
 * - Each manager holds a lease (TTL `leaseTtlMs`, kept alive every third of
 *   it) and registers itself under `<prefix>/managers/<id>` with it.
 * - Campaign: one Txn `If(create_revision(<prefix>/leader) == 0) Then
 *   put(leader, {id, url}, lease) Else get(leader)`. The winner's **epoch** is
 *   the create revision of the leader key: every write of the leader is
 *   guarded by it (lib/store/etcd.ts), so a deposed leader changes nothing.
 * - Followers watch the leader key (and poll it as a fallback) and campaign
 *   as soon as it is deleted: on a resign (SIGTERM) at once, after a crash
 *   when the lease expires.
 * - A leader steps down by itself when no check (a keepalive, then a
 *   linearizable read, which needs a quorum) has succeeded for
 *   `stepDownFraction` (2/3) of the lease, counted from when the check was
 *   sent — before the lease can expire under it, so it stops acting before
 *   anyone else can be elected — and when the leader key is gone or belongs
 *   to another epoch.
 */
import type { Etcd3, Lease, Watcher } from 'etcd3';
import { systemClock, type Clock } from '../supervision/clock.js';
import { probeManager } from './manager-probe.js';

/** Who leads, as stored in the leader key. */
export interface LeaderInfo {
  /** The manager's id. */
  id: string;
  /** Its API base URL, e.g. `http://127.0.0.1:7070`. */
  url: string;
  /** The create revision of the leader key: the leader's epoch. */
  epoch: number;
}

/** Options of an {@link Election}. */
export interface ElectionOptions {
  /** A connected client (not closed by the election). */
  client: Etcd3;
  /** Key prefix of the cluster. @default 'goat' */
  prefix?: string;
  /** This manager's id (unique in the cluster). */
  id: string;
  /** This manager's API URL, told to followers and workers. */
  url: string;
  /** Lease TTL, ms (etcd counts whole seconds, at least 2). @default 3000 */
  leaseTtlMs?: number;
  /** Part of the lease after which a leader without a successful keepalive steps down. @default 2/3 */
  stepDownFraction?: number;
  /** The clock for the keepalive check and retries. @default systemClock */
  clock?: Clock;
  /** This manager won: `epoch` guards its writes. */
  onLeader: (epoch: number) => void;
  /** This manager stopped leading (`reason` says why); its leader subtree must stop at once. */
  onStepDown: (reason: string) => void;
  /** Who leads now, as seen by this manager (null: nobody right now). */
  onLeaderChange?: (leader: LeaderInfo | null) => void;
}

/** Default lease TTL, ms: a crashed leader is replaced within about this long. */
export const DEFAULT_LEASE_TTL_MS = 3_000;

/**
 * Pure: must a leader step down, its last successful keepalive at
 * `lastOkAt`, at `now`? True once more than `fraction` of the lease passed.
 */
export function keepaliveExpired(lastOkAt: number, now: number, leaseTtlMs: number, fraction = 2 / 3): boolean {
  return now - lastOkAt > leaseTtlMs * fraction;
}

/** The lease TTL etcd is asked for, in whole seconds (at least 2: etcd's floor with 1 s elections). */
export function leaseSeconds(leaseTtlMs: number): number {
  return Math.max(2, Math.ceil(leaseTtlMs / 1000));
}

/** One manager's part in the election; see the module comment. */
export class Election {
  readonly #o: ElectionOptions;
  readonly #clock: Clock;
  readonly #key: string;
  readonly #ttlMs: number;
  #lease: Lease | null = null;
  #leaseId = '';
  #lastOkAt = 0;
  #role: 'candidate' | 'follower' | 'leader' = 'candidate';
  #epoch = 0;
  #leader: LeaderInfo | null = null;
  #watcher: Watcher | null = null;
  #timer: unknown = null;
  #stopped = false;
  #campaigning = false;
  #lastKeepaliveSentAt = 0;

  constructor(options: ElectionOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#key = `${options.prefix ?? 'goat'}/leader`;
    this.#ttlMs = leaseSeconds(options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS) * 1000;
  }

  /** 'leader', 'follower' (someone else leads) or 'candidate' (nobody known). */
  get role(): 'candidate' | 'follower' | 'leader' {
    return this.#role;
  }
  /** This manager's epoch while it leads, else 0. */
  get epoch(): number {
    return this.#role === 'leader' ? this.#epoch : 0;
  }
  /** Who leads, as last seen (this manager included). */
  get leader(): LeaderInfo | null {
    return this.#leader;
  }
  /**
   * How long ago the last quorum-backed check (keepalive + linearizable read)
   * succeeded, ms, while this manager leads; Infinity otherwise. Past a third
   * of the lease (two checks missed) its reads may be stale.
   */
  get unconfirmedMs(): number {
    return this.#role === 'leader' ? Math.max(0, this.#clock.now() - this.#lastOkAt) : Infinity;
  }
  /** The lease TTL in ms, as etcd counts it. */
  get leaseTtlMs(): number {
    return this.#ttlMs;
  }
  /** The leader key. */
  get key(): string {
    return this.#key;
  }

  /** Starts: grants the lease, registers, watches the leader key and campaigns. */
  async start(): Promise<void> {
    this.#watcher = await this.#o.client.watch().key(this.#key).create();
    this.#watcher.on('delete', () => {
      if (this.#role === 'leader') this.stepDown('the leader key was deleted');
      this.#setLeader(null);
      void this.#campaign();
    });
    this.#watcher.on('put', (kv) => {
      const info = parseLeader(kv.value, Number(kv.create_revision));
      if (this.#role === 'leader' && info?.epoch !== this.#epoch) this.stepDown('another manager holds the leader key');
      if (this.#role !== 'leader') this.#setLeader(info);
    });
    await this.#campaign();
    this.#tick();
  }

  /** Stops leading at once (the caller's leader subtree stops); campaigns again after a lease. Idempotent. */
  stepDown(reason: string): void {
    if (this.#role !== 'leader') return;
    this.#role = 'candidate';
    this.#epoch = 0;
    const lease = this.#lease;
    this.#lease = null;
    // Let the key go now if etcd still answers, so another is elected without waiting for the lease.
    if (lease) void lease.revoke().catch(() => undefined);
    this.#setLeader(null);
    this.#o.onStepDown(reason);
  }

  /** Resigns (SIGTERM): steps down and revokes the lease, so a follower is elected at once. Then stops. */
  async resign(): Promise<void> {
    const wasLeader = this.#role === 'leader';
    const lease = this.#lease;
    this.#stopped = true;
    if (wasLeader) {
      this.#role = 'candidate';
      this.#o.onStepDown('resigned');
    }
    this.#lease = null;
    await lease?.revoke().catch(() => undefined);
    await this.stop();
  }

  /** Stops watching and campaigning (the lease is left to expire unless resigned). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer as never);
    this.#timer = null;
    await this.#watcher?.cancel().catch(() => undefined);
    this.#watcher = null;
    this.#lease?.release();
    this.#lease = null;
  }

  /** Every ~200 ms: a leader checks its keepalives; a follower polls the key (the watch's fallback). */
  #tick(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      if (this.#role === 'leader') {
        this.#keepalive();
        if (keepaliveExpired(this.#lastOkAt, this.#clock.now(), this.#ttlMs, this.#o.stepDownFraction)) {
          this.stepDown(`no keepalive succeeded for ${this.#clock.now() - this.#lastOkAt} ms (lease ${this.#ttlMs} ms)`);
        }
      } else {
        void this.#campaign();
      }
      this.#tick();
    }, this.#role === 'leader' ? 100 : 500);
  }

  /**
   * A leader's own check every sixth of the lease: a keepalive, then a
   * linearizable read of the leader key. Only that read proves a quorum: etcd
   * 3.4's Raft leader renews leases without consensus, so after losing its
   * quorum it keeps answering keepalives until its Raft election timeout
   * deposes it (1-2 s more). A check counts from the moment it was sent; checks
   * run side by side (each bounded by its deadline), so one hanging call never
   * delays the next or the step-down timer in {@link #tick}.
   */
  #keepalive(): void {
    const lease = this.#lease;
    const now = this.#clock.now();
    if (!lease || now - this.#lastKeepaliveSentAt < this.#ttlMs / 6) return;
    this.#lastKeepaliveSentAt = now;
    const epoch = this.#epoch;
    const deadline = Date.now() + this.#ttlMs / 3;
    void (async () => {
      await lease.keepaliveOnce({ deadline });
      const res = await this.#o.client.kv.range({ key: Buffer.from(this.#key) }, { deadline });
      if (this.#lease !== lease || this.#role !== 'leader' || this.#epoch !== epoch) return;
      const kv = res.kvs[0];
      if (!kv) return this.stepDown('the leader key is gone');
      if (Number(kv.create_revision) !== epoch) return this.stepDown('another manager holds the leader key');
      this.#lastOkAt = Math.max(this.#lastOkAt, now);
    })().catch(() => undefined);
  }

  async #ensureLease(): Promise<string> {
    if (this.#lease && !this.#lease.revoked()) return this.#leaseId;
    const lease = this.#o.client.lease(this.#ttlMs / 1000);
    lease.on('lost', () => {
      if (this.#lease !== lease) return;
      this.#lease = null;
      if (this.#role === 'leader') this.stepDown('the lease was lost');
    });
    this.#lease = lease;
    const started = this.#clock.now();
    this.#leaseId = await lease.grant();
    this.#lastOkAt = started;
    await this.#o.client.put(`${this.#o.prefix ?? 'goat'}/managers/${this.#o.id}`).value(JSON.stringify({ id: this.#o.id, url: this.#o.url })).lease(this.#leaseId).exec();
    return this.#leaseId;
  }

  /** One attempt to become the leader; else learns who leads. */
  async #campaign(): Promise<void> {
    if (this.#stopped || this.#campaigning || this.#role === 'leader') return;
    this.#campaigning = true;
    try {
      const leaseId = await this.#ensureLease();
      const key = Buffer.from(this.#key);
      const res = await this.#o.client.kv.txn({
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key, value: Buffer.from(JSON.stringify({ id: this.#o.id, url: this.#o.url })), lease: leaseId } }],
        failure: [{ request_range: { key } }],
      }, { deadline: Date.now() + 2_000 });
      if (this.#stopped) return;
      if (res.succeeded) {
        this.#role = 'leader';
        this.#epoch = Number(res.header.revision);
        this.#lastOkAt = this.#clock.now();
        this.#setLeader({ id: this.#o.id, url: this.#o.url, epoch: this.#epoch });
        this.#o.onLeader(this.#epoch);
        return;
      }
      const kv = res.responses[0]?.response_range.kvs[0];
      this.#role = kv ? 'follower' : 'candidate';
      this.#setLeader(kv ? parseLeader(kv.value, Number(kv.create_revision)) : null);
    } catch {
      // etcd does not answer (no quorum, member down): the tick tries again.
    } finally {
      this.#campaigning = false;
    }
  }

  #setLeader(info: LeaderInfo | null): void {
    const same = info?.id === this.#leader?.id && info?.epoch === this.#leader?.epoch;
    this.#leader = info;
    if (!same) this.#o.onLeaderChange?.(info);
  }
}

function parseLeader(value: Buffer, epoch: number): LeaderInfo | null {
  try {
    const v = JSON.parse(value.toString()) as { id?: unknown; url?: unknown };
    return typeof v.id === 'string' && typeof v.url === 'string' ? { id: v.id, url: v.url, epoch } : null;
  } catch {
    return null;
  }
}

/** How {@link listManagers} tells whether a manager is alive. */
export interface ListManagersOptions {
  /** This manager's id: counted healthy without a probe (it is answering). */
  self?: string;
  /** Probes one manager's URL. @default {@link probeManager} (`/healthz` within 500 ms) */
  probe?: (url: string) => Promise<boolean>;
}

/**
 * The managers registered under `<prefix>/managers/` and who leads: for
 * `goat-cluster managers`. `healthy`: the manager answered its `/healthz`
 * (probed side by side, 500 ms each) — a paused one keeps its registration
 * until its lease expires, but shows unhealthy.
 */
export async function listManagers(client: Etcd3, prefix = 'goat', options: ListManagersOptions = {}): Promise<{ managers: { id: string; url: string; leader: boolean; epoch: number | null; healthy: boolean }[]; leader: LeaderInfo | null }> {
  const regs = await client.getAll().prefix(`${prefix}/managers/`).strings();
  const res = await client.kv.range({ key: Buffer.from(`${prefix}/leader`) });
  const kv = res.kvs[0];
  const leader = kv ? parseLeader(kv.value, Number(kv.create_revision)) : null;
  const probe = options.probe ?? ((url: string) => probeManager(url));
  const managers = await Promise.all(Object.values(regs).map((text) => JSON.parse(text) as { id: string; url: string })
    .map(async (m) => ({ id: m.id, url: m.url, leader: leader?.id === m.id, epoch: leader?.id === m.id ? leader.epoch : null, healthy: m.id === options.self || (await probe(m.url)) })));
  managers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { managers, leader };
}
