/**
 * Scorers: among the nodes that pass every filter, which one gets the task.
 * A scorer gives each node a cost; the lowest wins, ties go to the smallest
 * node id (so placement is deterministic).
 */
import type { PlacementRequest, SchedNode } from './types.js';

/** Ranks feasible nodes for a task; like a filter, it sees a request only through `service` and `spec`. */
export interface Scorer {
  /** `spread`, `binpack`, or a name of your own. */
  readonly name: string;
  /** The node's cost for this task: lower is better; equal costs → smaller node id. */
  cost(req: PlacementRequest, node: SchedNode): number;
}

/** 2^32: task counts below it keep the service count the primary key. */
const SHIFT = 4_294_967_296;

/**
 * The default: fewest tasks of the same service on the node, then fewest
 * tasks overall (then node id) — replicas land on different nodes.
 */
export const spread: Scorer = {
  name: 'spread',
  cost: (req, node) => (node.serviceTasks.get(req.service) ?? 0) * SHIFT + node.tasks,
};

const fraction = (used: number, total: number): number => (total > 0 ? used / total : 0);

/**
 * Fill nodes up: the node whose cpu and memory would be the most reserved
 * (mean of the two fractions, this task included) first, like Kubernetes'
 * `MostAllocated`; frees whole nodes for big tasks.
 */
export const binpack: Scorer = {
  name: 'binpack',
  cost: (req, node) => {
    const cpu = fraction(node.reserved.cpus + (req.spec.resources.cpu ?? 0), node.capacity.cpus);
    const mem = fraction(node.reserved.memoryMb + (req.spec.resources.memoryMb ?? 0), node.capacity.memoryMb);
    return -(cpu + mem) / 2;
  },
};

/** The scorers by name. */
export const SCORERS: Readonly<Record<'spread' | 'binpack', Scorer>> = Object.freeze({ spread, binpack });
