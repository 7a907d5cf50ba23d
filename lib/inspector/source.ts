/**
 * The inspector's data: GET /v1/tree and /v1/nodes every second and at once
 * on each event of the SSE stream (/v1/events), which is reopened when it
 * drops. Failures are reported, never thrown; it keeps retrying until stopped.
 */
import { call, type ClientOptions } from '../cli/client.js';
import { goatFetch } from '../tls-fetch.js';
import type { NodeRecord } from '../model/index.js';
import type { TreeNode } from '../supervision/index.js';

/** One fetched picture of the cluster. */
export interface Snapshot {
  tree: TreeNode;
  nodes: NodeRecord[];
}

/** What the source tells its user. */
export interface SourceListener {
  data(s: Snapshot): void;
  error(message: string): void;
}

/** How often the inspector reads the tree and the nodes when no event came (ms). */
export const POLL_MS = 1_000;

/** Options of {@link startSource}. */
export interface SourceOptions extends ClientOptions {
  /** @default POLL_MS */
  pollMs?: number;
  /** Wait before reopening a dropped event stream. @default 1000 */
  reconnectMs?: number;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Starts fetching; returns the function that stops it. */
export function startSource(o: SourceOptions, on: SourceListener): () => void {
  let stopped = false;
  let inFlight = false;
  let again = false;
  let lastSeq = 0;
  const abort = new AbortController();

  const refresh = async (): Promise<void> => {
    if (stopped) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      const [tree, nodes] = await Promise.all([call<TreeNode>(o, 'GET', '/v1/tree'), call<NodeRecord[]>(o, 'GET', '/v1/nodes')]);
      if (!stopped) on.data({ tree, nodes });
    } catch (err) {
      if (!stopped) on.error(message(err));
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  };

  const follow = async (): Promise<void> => {
    while (!stopped) {
      try {
        const res = await goatFetch(new URL(`/v1/events?since=${lastSeq}`, o.manager), {
          headers: { accept: 'text/event-stream', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) },
          signal: abort.signal,
        }, { ca: o.ca });
        if (res.ok && res.body) {
          let buffer = '';
          const decoder = new TextDecoder();
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buffer += decoder.decode(chunk, { stream: true });
            let seen = false;
            for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
              const id = /^id: (\d+)$/m.exec(buffer.slice(0, i));
              if (id) {
                lastSeq = Math.max(lastSeq, Number(id[1]));
                seen = true;
              }
              buffer = buffer.slice(i + 2);
            }
            if (seen) void refresh();
          }
        } else await res.body?.cancel();
      } catch {
        // dropped or unreachable: the poll reports it; reopen below
      }
      if (!stopped) await new Promise((r) => setTimeout(r, o.reconnectMs ?? 1000).unref());
    }
  };

  void refresh();
  void follow();
  const timer = setInterval(() => void refresh(), o.pollMs ?? POLL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
    abort.abort();
  };
}
