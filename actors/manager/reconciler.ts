/**
 * `reconciler`: anti-entropy. At its start (and after a restart) it sweeps
 * the store: every service with a controller's work to do (defined, or
 * deleted with tasks still running) is told to reconcile, and every node
 * known and not down gets its actor (suspect, in its recovery grace, until
 * its worker says hello). A `sweep` message does it again.
 */
import { actorChild, type NactRef } from '../supervision/index.js';
import type { ChildSpec } from '../../lib/supervision/index.js';
import { isMessage, type ManagerContext, type ReconcilerMessage } from './context.js';

/** The child spec of `reconciler`; `ensureNode` starts a node's actor when it has none. */
export function reconcilerActor(mc: ManagerContext, ensureNode: (id: string) => void): ChildSpec<NactRef> {
  return actorChild<null, ReconcilerMessage>({
    id: 'reconciler',
    init: (ctx) => {
      ctx.tell({ type: 'sweep' });
      return null;
    },
    receive: (s, msg) => {
      if (!isMessage<ReconcilerMessage>(msg, 'sweep')) return s; // anything else (a REPL user's message) is ignored
      const { store } = mc.journal;
      // A down node needs its actor only while some of its tasks wait (`unknown`) to be lost.
      for (const n of store.listNodes()) if (n.status !== 'down' || store.listTasks({ node: n.id, state: 'unknown' }).length > 0) ensureNode(n.id);
      const services = new Set(store.listServices().map((x) => x.name));
      // Deleted services with tasks still live: an indexed read, whatever the history.
      for (const t of store.listActiveTasks()) services.add(t.service);
      for (const name of services) mc.tell(`/cluster/manager/services/${name}`, { type: 'reconcile' });
      return s;
    },
  });
}
