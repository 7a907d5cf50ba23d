/**
 * `services/<name>`: one service's replica controller. It owns the service's
 * slots (slot → current task and its history: lib/manager/service's
 * ServiceState) and runs the pure `serviceStep` on every `reconcile`: new
 * tasks are written pending and the scheduler is told; tasks to stop are
 * written and their nodes told. A restart rebuilds the slots from the store.
 * A deleted service whose tasks are all stopped ends (normal exit), and the
 * manager removes it from the tree.
 */
import { nanoid } from 'nanoid';
import { actorChild, type NactRef } from '../supervision/index.js';
import type { ChildSpec } from '../../lib/supervision/index.js';
import { initialServiceState, serviceStep, slotsOf, type ServiceState } from '../../lib/manager/index.js';
import { isMessage, type ManagerContext, type ServiceMessage } from './context.js';

/** The child spec of `services/<name>`. */
export function serviceActor(mc: ManagerContext, name: string): ChildSpec<NactRef> {
  return actorChild<ServiceState, ServiceMessage>({
    id: name, restart: 'transient',
    init: (ctx) => {
      ctx.tell({ type: 'reconcile' });
      const s = initialServiceState(name);
      return { ...s, slots: slotsOf(mc.journal.store.listTasks({ service: name })) };
    },
    receive: (s, msg, ctx) => {
      if (!isMessage<ServiceMessage>(msg, 'reconcile')) return s; // anything else (a REPL user's message) is ignored
      const { store } = mc.journal;
      const now = mc.clock.now();
      const { state, effects } = serviceStep(s, store.getService(name), store.listTasks({ service: name }), now, (svc, slot) => `${svc}.${slot}.${mc.settings.newId()}`);
      if (effects.puts.length > 0) {
        mc.journal.tx(() => {
          store.putTasks(effects.puts);
          mc.journal.events(effects.events);
        });
      }
      for (const stop of effects.stops) mc.tell(`/manager/nodes/${stop.node}`, { type: 'stop', id: stop.id, generation: stop.generation });
      if (effects.place) mc.tell('/manager/scheduler', { type: 'place' });
      // A deleted service whose tasks are all stopped needs no controller any more.
      if (effects.done) ctx.exit();
      return state;
    },
  });
}

/** The default random part of a task id: 10 letters and digits. */
export function defaultTaskId(): string {
  return nanoid(10).replace(/[^A-Za-z0-9]/g, 'x');
}
