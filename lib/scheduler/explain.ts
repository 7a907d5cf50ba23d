/**
 * Why a task cannot be placed, in one line, the way Kubernetes and SwarmKit
 * say it: `0/3 nodes available: 2 insufficient memory (needs 512 MiB), 1 not ready`.
 */
import { DEFAULT_FILTERS, filtersFor, type Filter } from './filters.js';
import type { PlacementRequest, SchedNode } from './types.js';

/**
 * Why no node of `nodes` can take `req`, or null when one can. Each refusing
 * node counts once, for the first filter that refuses it; reasons come most
 * frequent first, then in filter order.
 */
export function explainUnplaced(req: PlacementRequest, nodes: readonly SchedNode[], filters: readonly Filter[] = DEFAULT_FILTERS): string | null {
  return explainWith(req, nodes, filtersFor(req, filters));
}

/** {@link explainUnplaced} with the filters that apply to `req` already chosen. */
export function explainWith(req: PlacementRequest, nodes: readonly SchedNode[], active: readonly Filter[]): string | null {
  if (nodes.length === 0) return '0/0 nodes available: no nodes in the cluster';
  const refused = new Array<number>(active.length).fill(0);
  for (const node of nodes) {
    const i = active.findIndex((f) => !f.check(req, node));
    if (i < 0) return null;
    refused[i]! += 1;
  }
  const reasons = active
    .map((f, i) => ({ f, n: refused[i]!, i }))
    .filter((r) => r.n > 0)
    .sort((a, b) => b.n - a.n || a.i - b.i)
    .map((r) => r.f.explain(r.n, req));
  return `0/${nodes.length} nodes available: ${reasons.join(', ')}`;
}
