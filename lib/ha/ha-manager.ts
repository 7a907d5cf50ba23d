/**
 * One of several managers on etcd (high availability).
 *
 * It campaigns ({@link Election}). While a follower it serves the follower
 * server on its port (forward to the leader, redirect workers; see
 * transport/follower-server.ts). When it wins it stops that server, opens the
 * leader's store — the desired state loaded from etcd at one revision, every
 * write guarded by its epoch (lib/store/etcd.ts) — and starts the whole
 * manager tree on the same port with it: every node begins `unknown` with
 * the recovery grace, workers' hellos adopt what runs, so a failover
 * restarts no task. When it loses the lease (or a write is refused: another
 * leads) it stops that tree at once — workers keep their tasks — and is a
 * follower again. SIGTERM resigns: the lease is revoked and a follower is
 * elected at once.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { consola } from 'consola';
import { Manager, type ManagerOptions } from '../../actors/manager/manager.js';
import { createFollowerServer } from '../../transport/follower-server.js';
import { loadServerTls, type TlsFiles, type TlsServerCredentials } from '../tls.js';
import type { ManagerInfo } from '../../transport/http-api.js';
import { GoatError } from '../errors.js';
import type { Logger } from '../log.js';
import { openEtcdStore, type EtcdStore } from '../store/etcd.js';
import { DEFAULT_LEASE_TTL_MS, Election, listManagers, type LeaderInfo } from './election.js';
import { staleReads, type StaleReads } from './stale-reads.js';

/** How an HA manager starts. */
export interface HaManagerOptions extends Omit<ManagerOptions, 'store' | 'epoch' | 'parent' | 'bus'> {
  /** The etcd cluster. */
  etcd: { endpoints: string[]; prefix?: string; leaseTtlMs?: number };
  /** This manager's id. @default kept in `<dataDir>/manager-id` (`<host>-<random>`) */
  id?: string;
  /** The URL others reach this manager at. @default `http://<listen>` (`https://` with `tls`) */
  advertiseUrl?: string;
  /** CA certificate(s), PEM, a follower trusts for an https:// leader besides the system's (`--tls-ca`). */
  tlsCa?: Buffer;
}

/** A running HA manager (leader or follower). */
export class HaManager {
  readonly #o: HaManagerOptions;
  readonly #client: Etcd3;
  readonly #log: Logger;
  #election!: Election;
  #manager: Manager | null = null;
  #follower: Server | null = null;
  #host = '127.0.0.1';
  #port = 0;
  #url = '';
  #token = '';
  #chain: Promise<void> = Promise.resolve();
  #stopping = false;
  #staleReads: StaleReads | undefined;
  /** The leader's store while this manager leads: fenced the moment the election steps down. */
  #store: EtcdStore | null = null;
  /** Leadership changes seen, for tests and `goat-cluster managers`. */
  readonly history: { at: number; role: 'leader' | 'follower'; epoch: number; reason?: string }[] = [];

  private constructor(readonly id: string, options: HaManagerOptions, client: Etcd3) {
    this.#o = options;
    this.#client = client;
    this.#log = options.logger ?? consola.withTag('goat:manager');
  }

  /** Connects to etcd (a clear error naming the endpoints when none answers), listens as a follower and campaigns. */
  static async start(options: HaManagerOptions): Promise<HaManager> {
    // TLS files are read (and refused when unreadable) once, before etcd is dialled; leader and follower serve the same pair.
    if (options.tls && typeof options.tls.cert === 'string') options = { ...options, tls: loadServerTls(options.tls as TlsFiles) };
    const endpoints = options.etcd.endpoints;
    const client = new Etcd3({ hosts: endpoints, dialTimeout: 3_000 });
    try {
      await client.maintenance.status({ deadline: Date.now() + 5_000 });
    } catch (err) {
      client.close();
      throw new GoatError('GOAT_ERR_STORE_UNREACHABLE', `no etcd endpoint answered: ${endpoints.join(', ')} (${err instanceof Error ? err.message : String(err)})`, { details: { endpoints } });
    }
    await mkdir(options.dataDir, { recursive: true });
    const id = options.id ?? (await managerId(options.dataDir));
    const ha = new HaManager(id, options, client);
    try {
      await ha.#boot();
    } catch (err) {
      await ha.stop();
      throw err;
    }
    return ha;
  }

  /** This manager's API URL. */
  get url(): string {
    return this.#url;
  }
  /** The cluster token (shared through etcd unless given). */
  get token(): string {
    return this.#token;
  }
  /** 'leader' or 'follower' (or 'candidate' while nobody leads). */
  get role(): 'candidate' | 'follower' | 'leader' {
    return this.#election.role;
  }
  /** Who leads, as this manager sees it. */
  get leader(): LeaderInfo | null {
    return this.#election.leader;
  }
  /** The manager tree while this one leads. */
  get manager(): Manager | null {
    return this.#manager;
  }
  /** The leader's store while this manager leads (null otherwise). */
  get store(): EtcdStore | null {
    return this.#store;
  }
  /** The etcd client (for `managers`). */
  get client(): Etcd3 {
    return this.#client;
  }

  /** Resigns (a follower is elected at once), stops serving; workers keep their tasks. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#election?.resign().catch(() => undefined);
    await this.#chain.catch(() => undefined);
    await this.#manager?.stop().catch(() => undefined);
    this.#manager = null;
    await this.#closeFollower();
    this.#staleReads?.close();
    this.#client.close();
  }

  async #boot(): Promise<void> {
    const prefix = this.#o.etcd.prefix ?? 'goat';
    this.#token = this.#o.token ?? process.env['GOAT_TOKEN'] ?? (await sharedToken(this.#client, prefix));
    const [host, port] = splitListen(this.#o.listen ?? '127.0.0.1:7070');
    this.#host = host;
    await this.#openFollower(Number(port));
    this.#url = this.#o.advertiseUrl ?? `${this.#o.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${this.#port}`;
    this.#election = new Election({
      client: this.#client, prefix, id: this.id, url: this.#url, leaseTtlMs: this.#o.etcd.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
      onLeader: (epoch) => this.#serial(() => this.#lead(epoch)),
      onStepDown: (reason) => {
        // Refuse writes at once (keepalive lost, key gone, resigned): not only once the tree, stopping in turn, closes the store.
        this.#store?.fence(`stepped down: ${reason}`);
        this.#serial(() => this.#follow(reason));
      },
      onLeaderChange: (l) => {
        if (l && l.id !== this.id) this.#log.info(`leader: ${l.id} at ${l.url} (epoch ${l.epoch})`);
      },
    });
    await this.#election.start();
    this.#log.info(`manager ${this.id} on ${this.#url} (${this.#election.role}; etcd ${this.#o.etcd.endpoints.join(',')})`);
  }

  #serial(step: () => Promise<void>): void {
    this.#chain = this.#chain.then(step).catch((err: unknown) => this.#log.warn(`leadership change failed: ${err instanceof Error ? err.message : String(err)}`));
  }

  async #lead(epoch: number): Promise<void> {
    if (this.#stopping || this.#election.epoch !== epoch) return;
    const prefix = this.#o.etcd.prefix ?? 'goat';
    const store = await openEtcdStore({
      client: this.#client, prefix, epoch, endpoints: this.#o.etcd.endpoints,
      onFenced: (err) => this.#election.stepDown(err.message),
    });
    if (this.#election.epoch !== epoch) {
      store.close(); // stepped down while it was loading
      return;
    }
    this.#store = store;
    store.appendEvents([{ at: Date.now(), type: 'manager.leader', subject: this.id, data: { epoch, url: this.#url } }]);
    await this.#closeFollower();
    if (this.#election.epoch !== epoch) {
      store.close();
      return this.#openFollower(this.#port);
    }
    const { etcd: _etcd, id: _id, advertiseUrl: _a, tlsCa: _ca, ...rest } = this.#o;
    try {
      const election = this.#election;
      // The managers as last read from etcd, for the tree (read again at most once a second, in the background).
      let known: ManagerInfo[] = [];
      let readAt = 0;
      const managers = async (): Promise<ManagerInfo[]> => {
        readAt = Date.now();
        known = (await listManagers(this.#client, prefix, { self: this.id })).managers;
        return known;
      };
      await managers().catch(() => undefined);
      this.#manager = await Manager.start({
        ...rest, token: this.#token, listen: `${this.#host}:${this.#port}`, store, epoch,
        managers,
        managersNow: () => {
          if (Date.now() - readAt > 1_000) void managers().catch(() => undefined);
          return known;
        },
        // Its reads may be stale once two quorum-backed checks in a row were missed (it steps down at 2/3 of the lease).
        api: { ...rest.api, stale: () => election.unconfirmedMs > election.leaseTtlMs / 3 },
      });
    } catch (err) {
      store.close();
      this.#election.stepDown(`the manager could not start: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    this.history.push({ at: Date.now(), role: 'leader', epoch });
    this.#log.info(`manager ${this.id} leads (epoch ${epoch})`);
  }

  async #follow(reason: string): Promise<void> {
    const m = this.#manager;
    this.#manager = null;
    this.#store = null;
    if (m) {
      this.#log.warn(`manager ${this.id} stepped down: ${reason}`);
      await m.stop().catch(() => undefined);
    }
    this.history.push({ at: Date.now(), role: 'follower', epoch: 0, reason });
    if (!this.#stopping) await this.#openFollower(this.#port);
  }

  async #openFollower(port: number): Promise<void> {
    if (this.#follower) return;
    const server = createFollowerServer({
      token: this.#token,
      tls: this.#o.tls as TlsServerCredentials | undefined,
      ca: this.#o.tlsCa,
      leader: () => {
        const l = this.#election?.leader;
        return l && l.id !== this.id ? l : null;
      },
      metricsToken: this.#o.api?.metricsToken === true,
      staleRead: (this.#staleReads ??= staleReads({ endpoints: this.#o.etcd.endpoints, prefix: this.#o.etcd.prefix ?? 'goat', token: this.#token })).handle,
    });
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, this.#host, () => {
            server.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        // The manager tree that held the port may still be letting it go.
        if (attempt >= 20 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
          throw new GoatError('GOAT_ERR_USAGE', `cannot listen on ${this.#host}:${port}: ${err instanceof Error ? err.message : String(err)}`, { details: { listen: `${this.#host}:${port}` } });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.#port = (server.address() as AddressInfo).port;
    this.#follower = server;
  }

  async #closeFollower(): Promise<void> {
    const s = this.#follower;
    this.#follower = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** This manager's id, kept in `<dataDir>/manager-id`. */
async function managerId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'manager-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[A-Za-z0-9_.-]{1,64}$/.test(id)) return id;
  } catch {
    // first start
  }
  const id = `${hostname().replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 40) || 'manager'}-${randomBytes(3).toString('hex')}`;
  await writeFile(file, `${id}\n`, { mode: 0o600 });
  return id;
}

/** The cluster token kept in etcd (`<prefix>/token`), created by the first manager. */
async function sharedToken(client: Etcd3, prefix: string): Promise<string> {
  const key = Buffer.from(`${prefix}/token`);
  const fresh = randomBytes(24).toString('base64url');
  const res = await client.kv.txn({
    compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
    success: [{ request_put: { key, value: Buffer.from(fresh) } }],
    failure: [{ request_range: { key } }],
  });
  return res.succeeded ? fresh : (res.responses[0]?.response_range.kvs[0]?.value.toString() ?? fresh);
}

function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(':');
  if (i <= 0) throw new GoatError('GOAT_ERR_USAGE', `--listen wants HOST:PORT, got '${listen}'`, { details: { field: 'listen' } });
  return [listen.slice(0, i).replace(/^\[|\]$/g, ''), listen.slice(i + 1)];
}
