/**
 * Reads that may be stale: what a follower answers to `GET /v1/*` while no
 * leader is known (an election, or etcd's quorum lost). The desired state is
 * loaded from the answering etcd member's local copy (a serializable read:
 * no quorum needed, possibly behind), at most once a second, and served by
 * the ordinary API routes with `Goat-Stale: true` on every answer. Writes
 * never reach it (the follower server makes them wait for a leader).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Etcd3 } from 'etcd3';
import { GoatError } from '../errors.js';
import { EtcdStore } from '../store/etcd.js';
import { createApiHandler, type ManagerApi } from '../../transport/http-api.js';

/** Options of {@link staleReads}. */
export interface StaleReadsOptions {
  client: Etcd3;
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

/** The `staleRead` handler of a follower's server (transport/follower-server.ts). */
export function staleReads(o: StaleReadsOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const maxAge = o.maxAgeMs ?? 1_000;
  let current: { at: number; handler: ReturnType<typeof createApiHandler> } | null = null;
  let loading: Promise<ReturnType<typeof createApiHandler>> | null = null;
  const snapshot = (): Promise<ReturnType<typeof createApiHandler>> => {
    if (current && Date.now() - current.at < maxAge) return Promise.resolve(current.handler);
    loading ??= (async () => {
      try {
        const store = new EtcdStore({ client: o.client, prefix: o.prefix, epoch: 0 });
        await store.load({ serializable: true });
        store.close();
        const handler = createApiHandler(readOnlyApi(store), { token: o.token, stale: () => true });
        current = { at: Date.now(), handler };
        return handler;
      } finally {
        loading = null;
      }
    })();
    return loading;
  };
  return (req, res) => {
    snapshot().then((handler) => handler(req, res), (err: unknown) => {
      const e = new GoatError('GOAT_ERR_NOT_READY', `no leader, and no etcd member answered a local read: ${err instanceof Error ? err.message : String(err)}; retry`, { temporary: true });
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end(JSON.stringify({ error: e.toJSON() }));
    });
  };
}
