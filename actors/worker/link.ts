/**
 * The worker's `link` actor (DESIGN.md's tree: `worker → link, runtime,
 * tasks`): it owns the lifecycle of the link to the manager. Its start opens
 * the link; the worker's stop closes it (joinCluster's `stop`). A restart of
 * this actor leaves a working connection alone: the worker's root is
 * rest_for_one over `runtime, tasks, link`, so every restart of `runtime`
 * (an engine that does not answer, retried with backoff) restarts `link`
 * too, and closing the link then would cut a node whose engine is down off
 * its manager (the node must stay linked: degraded, refusing tasks with the
 * reason). The link client reconnects by itself with backoff and jitter. `state('/cluster/worker/link')` shows where it
 * stands; `{ type: 'reconnect' }` drops the connection and links again.
 */
import { z } from 'zod';
import type { LinkClient } from '../../transport/index.js';
import { actorChild } from '../supervision/index.js';

/** The messages the link actor understands (also from the admin channel). */
export const linkMessages = z.object({ type: z.literal('reconnect') });

/** What `state('/cluster/worker/link')` shows (read live from the client). */
export interface LinkActorState {
  readonly status: string;
  readonly url: string | null;
  readonly disconnectedSince: number | null;
}

/** The `link` child of a worker over `link`. */
export function linkChild(link: LinkClient) {
  return actorChild<LinkActorState, z.infer<typeof linkMessages>>({
    id: 'link',
    restart: 'permanent',
    backoff: { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2, resetAfterMs: 30_000 },
    messages: linkMessages,
    init: () => {
      link.start();
      return {
        get status() {
          return link.status;
        },
        get url() {
          return link.url;
        },
        get disconnectedSince() {
          return link.disconnectedSince;
        },
      };
    },
    receive: async (state, msg) => {
      if (msg.type === 'reconnect') {
        await link.stop();
        link.start();
      }
      return state;
    },
    // Not `link.stop()`: see above (a sibling's restart must not drop the link); `reconnect` drops it on purpose.
  });
}
