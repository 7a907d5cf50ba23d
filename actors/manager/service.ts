/**
 * `services/<name>`: one service's replica controller. It owns the service's
 * slots (slot → current task and its history: lib/manager/service's
 * ServiceState) and runs the pure `serviceStep` on every `reconcile`: new
 * tasks are written pending and the scheduler is told; tasks to stop are
 * written and their nodes told; the rollout's status is written with the
 * service, and a wake-up is set when the rollout or a slot's backoff wants
 * another look later. A restart rebuilds the slots from the store. A
 * deleted service whose tasks are all stopped ends (normal exit), and the
 * manager removes it from the tree; of its ended tasks only each slot's
 * newest is kept (generations only grow per slot, across a re-creation).
 */
import { nanoid } from 'nanoid';
import { actorChild, type NactRef } from '../supervision/index.js';
import type { ChildSpec } from '../../lib/supervision/index.js';
import type { ServiceRecord, ServiceState as StoredServiceState } from '../../lib/model/index.js';
import { initialServiceState, serviceStep, type ServiceState } from '../../lib/manager/index.js';
import { isRolling, slotInfos } from '../../lib/model/index.js';
import { isMessage, type ManagerContext, type ServiceMessage } from './context.js';
import { pendingWake, wakeAt, type Wake } from './wake.js';

/** A controller's state: its slots, and the wake-up it waits for. */
interface ControllerState extends ServiceState {
  wake: Wake | null;
}

/** The child spec of `services/<name>`. */
export function serviceActor(mc: ManagerContext, name: string): ChildSpec<NactRef> {
  return actorChild<ControllerState, ServiceMessage>({
    id: name, restart: 'transient',
    init: (ctx) => {
      ctx.tell({ type: 'reconcile' });
      const s = initialServiceState(name);
      const { store } = mc.journal;
      return { ...s, slots: slotInfos(store.listCurrentTasks(name, Number.MAX_SAFE_INTEGER), store.getService(name)), wake: null };
    },
    receive: (s, msg, ctx) => {
      if (!isMessage<ServiceMessage>(msg, 'reconcile')) return s; // anything else (a REPL user's message) is ignored
      const { store } = mc.journal;
      const now = mc.clock.now();
      const service = store.getService(name);
      // Only what the step needs: live tasks, each slot's newest, and the tasks of a rollout in progress (not the whole history).
      const tasks = store.listCurrentTasks(name, rolloutStart(service) ?? now);
      const { state, effects } = serviceStep(s, service, tasks, now, (svc, slot) => `${svc}.${slot}.${mc.settings.newId()}`);
      mc.journal.tx(() => {
        if (effects.puts.length > 0) store.putTasks(effects.puts);
        mc.journal.events(effects.events);
        if (service && (effects.update !== undefined || effects.status !== undefined)) {
          setServiceState(mc, service, { ...(effects.update !== undefined ? { update: effects.update } : {}), ...(effects.status ? { status: effects.status } : {}) });
        }
        // A deleted service keeps only each slot's newest ended task, so that a service created again under its name
        // goes on with higher generations (generations only grow per slot); a straggler's end starts a controller again.
        store.pruneTaskHistory(name, service ? service.spec.taskHistory : 1);
      });
      for (const stop of effects.stops) mc.tell(`/cluster/manager/nodes/${stop.node}`, { type: 'stop', id: stop.id, generation: stop.generation });
      if (effects.place) mc.tell('/cluster/manager/scheduler', { type: 'place' });
      if (effects.rollback !== undefined) mc.rollback(name, effects.rollback);
      let wake = pendingWake(s.wake, now, msg.wake);
      if (effects.wakeAt !== undefined) wake = wakeAt(mc.clock, wake, effects.wakeAt, now, (at) => ctx.tell({ type: 'reconcile', wake: at }));
      // A deleted service whose tasks are all stopped needs no controller any more.
      if (effects.done) ctx.exit();
      return { ...state, wake };
    },
    terminate: (s) => {
      if (s.wake) mc.clock.clearTimeout(s.wake.timer);
    },
  });
}

/** When the rollout of the service's current version started, while it is replacing slots (its tasks count for it). */
function rolloutStart(service: ServiceRecord | undefined): number | undefined {
  const u = service?.update;
  return service && u && isRolling(u) && u.version === service.version ? u.startedAt : undefined;
}

/** Merges `patch` into a service's stored state (inside a transaction); returns the record with it. */
export function setServiceState(mc: ManagerContext, r: ServiceRecord, patch: Partial<StoredServiceState>): ServiceRecord {
  const state: Partial<StoredServiceState> = {
    ...(r.previousSpec !== undefined ? { previousSpec: r.previousSpec } : {}),
    ...(r.update !== undefined ? { update: r.update } : {}),
    ...(r.status !== undefined ? { status: r.status } : {}),
    ...patch,
  };
  mc.journal.store.putServiceState(r.name, state);
  return { ...r, ...state };
}

/** The default random part of a task id: 10 letters and digits. */
export function defaultTaskId(): string {
  return nanoid(10).replace(/[^A-Za-z0-9]/g, 'x');
}
