/**
 * `store`: owns the durable store. It opens it in its init (the first time
 * in Manager.start, so that a corrupt store is refused before anything
 * listens) and closes it in its terminate; a restart reopens it from disk.
 * The other actors reach it through the StoreCell (lib/store/cell.ts).
 *
 * It also owns the heartbeat buffer: nodes' heartbeats (`beat` messages)
 * are written together, at most once per {@link HEARTBEAT_FLUSH_MS}, so
 * that 500 workers cost two transactions a second, not 500: `lastSeenAt`
 * and `usage` in `nodes` lag by up to that.
 */
import { actorChild, type NactRef } from '../supervision/index.js';
import type { ChildSpec, TimerId } from '../../lib/supervision/index.js';
import type { NodeRecord } from '../../lib/model/index.js';
import type { StoreCell } from '../../lib/store/index.js';
import { isMessage, type ManagerContext, type StoreMessage } from './context.js';

/** Heartbeats are written to the store together, at most this often (ms). */
export const HEARTBEAT_FLUSH_MS = 1_000;

/** The store actor's state: heartbeats not written yet, and the flush timer. */
export interface StoreState {
  beats: Map<string, { usage: NodeRecord['usage']; at: number }>;
  timer: TimerId | null;
}

/** The child spec of `store`. */
export function storeActor(mc: ManagerContext, cell: StoreCell): ChildSpec<NactRef> {
  return actorChild<StoreState, StoreMessage | { type: 'flush' }>({
    id: 'store', restart: 'permanent',
    init: () => {
      cell.open(); // after a restart: reopen from disk (at the first start it is open already, and checked)
      return { beats: new Map(), timer: null };
    },
    receive: (s, msg, ctx) => {
      if (isMessage<{ type: 'flush' }>(msg, 'flush')) {
        flush(mc, s);
        return { beats: new Map(), timer: null };
      }
      if (!isMessage<StoreMessage>(msg, 'beat')) return s; // anything else (a REPL user's message) is ignored
      s.beats.set(msg.node, { usage: msg.usage, at: msg.at });
      if (s.timer === null) s.timer = mc.clock.setTimeout(() => ctx.tell({ type: 'flush' }), HEARTBEAT_FLUSH_MS);
      return s;
    },
    terminate: (s) => {
      if (s.timer !== null) mc.clock.clearTimeout(s.timer);
      try {
        flush(mc, s);
      } finally {
        cell.close();
      }
    },
  });
}

/** Writes the buffered heartbeats (usage, lastSeenAt) in one transaction, onto the nodes as they are now. */
function flush(mc: ManagerContext, s: StoreState): void {
  if (s.beats.size === 0) return;
  const { store } = mc.journal;
  const beats = [...s.beats];
  s.beats.clear();
  store.transaction(() => {
    for (const [id, b] of beats) {
      const node = store.getNode(id);
      if (node) store.putNode({ ...node, usage: b.usage, lastSeenAt: b.at });
    }
  });
}
