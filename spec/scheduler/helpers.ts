/** Small builders for scheduler specs: nodes and requests with only what a test cares about. */
import { normalizeTaskSpec, type TaskSpecInput } from '../../lib/model/index.js';
import type { PlacementRequest, SchedNode } from '../../lib/scheduler/index.js';

/** A ready, empty node with 4 cpus and 4096 MiB, unless told otherwise. */
export function node(id: string, over: Partial<SchedNode> = {}): SchedNode {
  return {
    id, name: `name-${id}`, status: 'ready', labels: {},
    capacity: { cpus: 4, memoryMb: 4096 },
    reserved: { cpus: 0, memoryMb: 0, diskMb: 0 },
    ports: new Set(), tasks: 0, serviceTasks: new Map(),
    ...over,
  };
}

/** A request for `service` slot `slot`, its spec from `task` (image defaulted). */
export function request(service: string, slot: number, task: Partial<TaskSpecInput> = {}): PlacementRequest {
  return { taskId: `${service}.${slot}.t`, service, slot, spec: normalizeTaskSpec({ image: 'goat/echo', ...task }) };
}

/** `replicas` requests of one service sharing one spec, as a replica controller makes them. */
export function replicas(service: string, count: number, task: Partial<TaskSpecInput> = {}): PlacementRequest[] {
  const spec = request(service, 0, task).spec;
  return Array.from({ length: count }, (_, slot) => ({ taskId: `${service}.${slot}.t`, service, slot, spec }));
}
