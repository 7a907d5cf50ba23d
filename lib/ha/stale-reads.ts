/**
 * Reads that may be stale: what a follower answers to `GET /v1/*` while no
 * leader is known (an election, or etcd's quorum lost). The desired state is
 * loaded from the answering etcd member's local copy (a serializable read:
 * no quorum needed, possibly behind), at most once a second, and served by
 * the ordinary API routes with `Goat-Stale: true` on every answer. Writes
 * never reach it (the follower server makes them wait for a leader).
 *
 * Each endpoint is asked on its own (a client per endpoint), the one that
 * answered last first: with most members down, a client over all endpoints
 * spends its few retries on the dead ones.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Etcd3 } from 'etcd3';
import { GoatError } from '../errors.js';
import { EtcdStore } from '../store/etcd.js';
import { createApiHandler, type ManagerApi } from '../../transport/http-api.js';

/** Options of {@link staleReads}. */
export interface StaleReadsOptions {
  /** The etcd client URLs. */
  endpoints: string[];
  /** Makes the client of one endpoint. @default a plain Etcd3 client with a 1 s dial timeout */
  connect?: (endpoint: string) => Etcd3;
  /** Key prefix of the cluster. */
  prefix: string;
  /** The cluster token (checked again by the API routes). */
  token: string;
  /** How long one snapshot is served, ms. @default 1000 */
  maxAgeMs?: number;
}

const noLeader = (): GoatError => new GoatError('GOAT_ERR_NOT_READY', 'no leader right now (an election, or etcd has no quorum): this manager answers reads only, and they may be stale; retry', { temporary: true, details: { role: 'follower' } });

/** A read-only {@link ManagerApi} over a loaded store: reads answer, anything else is 503 (no leader). */
export function readOnlyApi(store: EtcdStore): ManagerApi {
  const refuse = (): Promise<never> => Promise.reject(noLeader());
  return {
    ready: () => true,
    listServices: () => store.listServices(),
    getService: (name) => store.getService(name),
    putService: refuse,
    scaleService: refuse,
    deleteService: refuse,
    rollbackService: refuse,
    listTasks: (filter) => store.listTasks(filter),
    getTask: (id) => store.getTask(id),
    listNodes: () => store.listNodes(),
    drainNode: refuse,
    eventsSince: (seq, limit) => store.eventsSince(seq, limit),
    lastEventSeq: () => store.lastEventSeq(),
    subscribeEvents: () => () => undefined,
    tree: () => {
      throw noLeader();
    },
    metrics: refuse,
    idempotent: () => undefined,
    remember: () => undefined,
  };
}

/** What {@link staleReads} returns: the follower server's `staleRead` handler, and how to close its clients. */
export interface StaleReads {
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  close: () => void;
}

/** The `staleRead` handler of a follower's server (transport/follower-server.ts). */
export function staleReads(o: StaleReadsOptions): StaleReads {
  const maxAge = o.maxAgeMs ?? 1_000;
  const connect = o.connect ?? ((endpoint: string) => new Etcd3({ hosts: [endpoint], dialTimeout: 1_000 }));
  const clients = new Map<string, Etcd3>();
  let preferred = 0;
  /** The desired state from the first endpoint that answers a local read, the last good one first. */
  const load = async (): Promise<EtcdStore> => {
    const errors: string[] = [];
    for (let k = 0; k < o.endpoints.length; k++) {
      const i = (preferred + k) % o.endpoints.length;
      const endpoint = o.endpoints[i]!;
      let client = clients.get(endpoint);
      if (!client) clients.set(endpoint, (client = connect(endpoint)));
      try {
        const store = new EtcdStore({ client, prefix: o.prefix, epoch: 0 });
        await store.load({ serializable: true });
        store.close();
        preferred = i;
        return store;
      } catch (err) {
        errors.push(`${endpoint}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    throw new Error(errors.join('; '));
  };
  let current: { at: number; handler: ReturnType<typeof createApiHandler> } | null = null;
  let loading: Promise<ReturnType<typeof createApiHandler>> | null = null;
  const snapshot = (): Promise<ReturnType<typeof createApiHandler>> => {
    if (current && Date.now() - current.at < maxAge) return Promise.resolve(current.handler);
    loading ??= (async () => {
      try {
        const store = await load();
        const handler = createApiHandler(readOnlyApi(store), { token: o.token, stale: () => true });
        current = { at: Date.now(), handler };
        return handler;
      } finally {
        loading = null;
      }
    })();
    return loading;
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    snapshot().then((handler) => handler(req, res), (err: unknown) => {
      const e = new GoatError('GOAT_ERR_NOT_READY', `no leader, and no etcd member answered a local read: ${err instanceof Error ? err.message : String(err)}; retry`, { temporary: true });
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end(JSON.stringify({ error: e.toJSON() }));
    });
  };
  return {
    handle,
    close: () => {
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}
