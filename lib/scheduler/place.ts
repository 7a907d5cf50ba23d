/**
 * The placement function: a pure function from (tasks to place, node table)
 * to (where each goes, why the others cannot go anywhere).
 */
import { DEFAULT_FILTERS, filtersFor, type Filter } from './filters.js';
import { explainWith } from './explain.js';
import { sameGroup } from './group.js';
import { SCORERS, spread, type Scorer } from './scorers.js';
import { copyNode, reserve } from './table.js';
import type { PlacementRequest, SchedNode } from './types.js';

/** How {@link place} chooses. */
export interface PlaceOptions {
  /** The scorer, or its name. @default 'spread' */
  scorer?: Scorer | keyof typeof SCORERS;
  /** The filters, in order. @default DEFAULT_FILTERS */
  filters?: readonly Filter[];
}

/** What {@link place} decided. */
export interface PlacementResult {
  /** Placed tasks, in request order. */
  placements: { taskId: string; node: string }[];
  /** Tasks no node can take, in request order, each with why (see {@link explainUnplaced}). */
  unplaced: { taskId: string; reason: string }[];
  /** The node table after these placements (sorted by node id); the input table is left untouched. */
  table: SchedNode[];
}

/**
 * Places `requests` in order on `table`: each task goes to the cheapest node
 * (see {@link Scorer}) that passes every filter that applies to it; ties go
 * to the smallest node id. Each placement is reserved at once in a copy of
 * its node's row (cpu, memory, disk, host ports, task counts), so the
 * replicas of a service spread out and no node is overbooked within one
 * call; rows are copied on first write and `table` is never changed.
 *
 * Like SwarmKit, consecutive requests with the same service and equal specs
 * (a service's replicas; see {@link sameGroup}) form a group: every node is
 * filtered and scored once for the group, then each task of it is a scan over the
 * costs, and only the node that took it is filtered and scored again. This
 * relies on filters and scorers looking at a request only through its
 * `service` and `spec`, and at one node at a time (all of ours do).
 */
export function place(requests: readonly PlacementRequest[], table: readonly SchedNode[], options: PlaceOptions = {}): PlacementResult {
  const scorer = typeof options.scorer === 'string' ? SCORERS[options.scorer] : options.scorer ?? spread;
  const filters = options.filters ?? DEFAULT_FILTERS;
  const nodes = [...table].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const owned = new Uint8Array(nodes.length);
  const fits = new Uint8Array(nodes.length);
  const costs = new Float64Array(nodes.length);
  const placements: PlacementResult['placements'] = [];
  const unplaced: PlacementResult['unplaced'] = [];

  for (let start = 0; start < requests.length;) {
    const first = requests[start]!;
    let end = start + 1;
    while (end < requests.length && sameGroup(requests[end]!, first)) end++;
    const active = filtersFor(first, filters);
    for (let i = 0; i < nodes.length; i++) evaluate(first, nodes, i, active, scorer, fits, costs);

    for (let k = start; k < end; k++) {
      const req = requests[k]!;
      const best = cheapest(fits, costs, req.avoid === undefined ? -1 : nodes.findIndex((n) => n.id === req.avoid));
      if (best < 0) {
        // Nothing changes until the group ends: the same reason holds for the rest of it.
        const reason = explainWith(req, nodes, active) ?? 'no node available';
        for (; k < end; k++) unplaced.push({ taskId: requests[k]!.taskId, reason });
        break;
      }
      if (owned[best] === 0) {
        nodes[best] = copyNode(nodes[best]!);
        owned[best] = 1;
      }
      const node = nodes[best]!;
      reserve(node, req.service, req.spec);
      placements.push({ taskId: req.taskId, node: node.id });
      evaluate(req, nodes, best, active, scorer, fits, costs);
    }
    start = end;
  }
  return { placements, unplaced, table: nodes };
}

/** Filters and scores node `i` for `req` into `fits[i]` and `costs[i]`. */
function evaluate(req: PlacementRequest, nodes: readonly SchedNode[], i: number, active: readonly Filter[], scorer: Scorer, fits: Uint8Array, costs: Float64Array): void {
  const node = nodes[i]!;
  for (let f = 0; f < active.length; f++) {
    if (!active[f]!.check(req, node)) {
      fits[i] = 0;
      return;
    }
  }
  fits[i] = 1;
  costs[i] = scorer.cost(req, node);
}

/** The index of the cheapest fitting node (the first of equals) other than `avoid` when another fits, or -1. */
function cheapest(fits: Uint8Array, costs: Float64Array, avoid: number): number {
  let best = -1;
  let bestCost = Infinity;
  for (let i = 0; i < fits.length; i++) {
    if (i === avoid) continue;
    if (fits[i] === 1 && (best < 0 || costs[i]! < bestCost)) {
      best = i;
      bestCost = costs[i]!;
    }
  }
  if (best < 0 && avoid >= 0 && fits[avoid] === 1) return avoid;
  return best;
}
