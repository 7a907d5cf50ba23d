/**
 * Building the node table from the manager's records, and copying a row
 * before {@link place} changes it.
 */
import { isTerminal, type NodeRecord, type TaskRecord } from '../model/index.js';
import type { SchedNode } from './types.js';

/** The parts of a task the node table is computed from. */
export type PlacedTask = Pick<TaskRecord, 'node' | 'service' | 'spec' | 'desired' | 'state'>;

/**
 * The node table: one row per node, with what its non-terminal tasks hold.
 *
 * Every non-terminal task placed on a node holds its resources and host ports
 * until it stops, even one being stopped (`desired: 'stopped'`); only the
 * tasks meant to keep running count in `tasks` and `serviceTasks`, so a
 * replacement is spread as if the task it replaces were gone. Tasks on nodes
 * not in `nodes` are ignored.
 */
export function buildNodeTable(nodes: readonly NodeRecord[], tasks: readonly PlacedTask[]): SchedNode[] {
  const byId = new Map<string, SchedNode>();
  for (const n of nodes) {
    const capacity = n.capacity.diskFreeMb === undefined
      ? { cpus: n.capacity.cpus, memoryMb: n.capacity.memoryMb }
      : { cpus: n.capacity.cpus, memoryMb: n.capacity.memoryMb, diskFreeMb: n.capacity.diskFreeMb };
    byId.set(n.id, {
      // A node that says it takes no tasks now (no Docker, no --allow-process) counts as not ready, and says why.
      id: n.id, name: n.name, status: n.unavailable ? 'degraded' : n.status, ...(n.unavailable ? { unavailable: n.unavailable } : {}), runtime: n.runtime, labels: { ...n.labels }, capacity,
      reserved: { cpus: 0, memoryMb: 0, diskMb: 0 }, ports: new Set(), tasks: 0, serviceTasks: new Map(),
    });
  }
  for (const t of tasks) {
    if (t.node === null || isTerminal(t.state)) continue;
    const row = byId.get(t.node);
    if (!row) continue;
    reserve(row, t.service, t.spec, t.desired === 'running');
  }
  return [...byId.values()];
}

/** Adds one task's requests to a row (in place); `counted` also bumps its task counts. */
export function reserve(row: SchedNode, service: string, spec: PlacedTask['spec'], counted = true): void {
  row.reserved.cpus += spec.resources.cpu ?? 0;
  row.reserved.memoryMb += spec.resources.memoryMb ?? 0;
  row.reserved.diskMb += spec.resources.diskMb ?? 0;
  for (const p of spec.ports) if (p.host !== undefined) row.ports.add(p.host);
  if (!counted) return;
  row.tasks += 1;
  row.serviceTasks.set(service, (row.serviceTasks.get(service) ?? 0) + 1);
}

/** A copy of a row that shares nothing mutable with it. */
export function copyNode(n: SchedNode): SchedNode {
  return {
    ...n,
    labels: { ...n.labels },
    capacity: { ...n.capacity },
    reserved: { ...n.reserved },
    ports: new Set(n.ports),
    serviceTasks: new Map(n.serviceTasks),
  };
}
