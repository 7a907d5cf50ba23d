/**
 * Filters (SwarmKit's `Filter`): each says whether a node can take a task
 * (`check`) and, for a task nobody can take, why so many nodes refused it
 * (`explain`). A filter that has nothing to say about a task
 * (`appliesTo` false: no cpu request, no host port…) is skipped for it.
 */
import type { PlacementRequest, SchedNode } from './types.js';

/**
 * One reason a node may refuse a task. A filter looks at a request only
 * through its `service` and `spec`, and at one node at a time: {@link place}
 * relies on it to check a group of replicas once.
 */
export interface Filter {
  /** Short, stable name (`ready`, `cpu`, `memory`, `disk`, `ports`, `constraints`). */
  readonly name: string;
  /**
   * Whether this filter has anything to check for this task (SwarmKit's
   * `SetTask`); when false it is skipped. Absent: always applies.
   */
  appliesTo?(req: PlacementRequest): boolean;
  /** True when `node` can take the task as far as this filter is concerned. */
  check(req: PlacementRequest, node: SchedNode): boolean;
  /** Why `nodesRefused` nodes refused the task, e.g. `2 insufficient memory (needs 512 MiB)`. */
  explain(nodesRefused: number, req: PlacementRequest): string;
}

/** Room for floating-point sums of fractional cpus (0.1 + 0.2). */
const EPSILON = 1e-9;

const fmt = (n: number): string => String(Math.round(n * 1000) / 1000);

/** Not a node that says it takes no tasks (its runtime is missing and nothing else is allowed); before `ready`, so the reason is its own. */
export const availableFilter: Filter = {
  name: 'available',
  check: (_req, node) => node.unavailable === undefined,
  explain: (n) => `${n} ${n === 1 ? 'takes' : 'take'} no tasks (Docker does not answer there and processes are not allowed: see goat-cluster nodes)`,
};

/** Only nodes whose status is `ready` (not degraded, suspect, down or draining). */
export const readyFilter: Filter = {
  name: 'ready',
  check: (_req, node) => node.status === 'ready',
  explain: (n) => `${n} not ready`,
};

/** A task with an image needs a Docker node; a task with only a command needs a process node. */
export const runtimeFilter: Filter = {
  name: 'runtime',
  check: (req, node) => (node.runtime ?? 'docker') === (req.spec.image ? 'docker' : 'process'),
  explain: (n, req) => `${n} cannot run ${req.spec.image ? 'images (process runtime)' : 'commands without an image (docker runtime)'}`,
};

/** Requested cpus fit in the node's cpus minus those reserved. */
export const cpuFilter: Filter = {
  name: 'cpu',
  appliesTo: (req) => (req.spec.resources.cpu ?? 0) > 0,
  check: (req, node) => (req.spec.resources.cpu ?? 0) <= node.capacity.cpus - node.reserved.cpus + EPSILON,
  explain: (n, req) => `${n} insufficient cpu (needs ${fmt(req.spec.resources.cpu ?? 0)})`,
};

/** Requested memory fits in the node's memory minus what is reserved. */
export const memoryFilter: Filter = {
  name: 'memory',
  appliesTo: (req) => (req.spec.resources.memoryMb ?? 0) > 0,
  check: (req, node) => (req.spec.resources.memoryMb ?? 0) <= node.capacity.memoryMb - node.reserved.memoryMb + EPSILON,
  explain: (n, req) => `${n} insufficient memory (needs ${fmt(req.spec.resources.memoryMb ?? 0)} MiB)`,
};

/**
 * Requested disk fits in the node's free disk minus what is reserved; a node
 * that does not report its free disk passes (it cannot be judged).
 */
export const diskFilter: Filter = {
  name: 'disk',
  appliesTo: (req) => (req.spec.resources.diskMb ?? 0) > 0,
  check: (req, node) => node.capacity.diskFreeMb === undefined
    || (req.spec.resources.diskMb ?? 0) <= node.capacity.diskFreeMb - node.reserved.diskMb + EPSILON,
  explain: (n, req) => `${n} insufficient disk (needs ${fmt(req.spec.resources.diskMb ?? 0)} MiB)`,
};

const hostPorts = (req: PlacementRequest): number[] => {
  const out: number[] = [];
  for (const p of req.spec.ports) if (p.host !== undefined) out.push(p.host);
  return out;
};

/** None of the task's host ports is already published on the node. */
export const portsFilter: Filter = {
  name: 'ports',
  appliesTo: (req) => req.spec.ports.some((p) => p.host !== undefined),
  check: (req, node) => {
    for (const p of req.spec.ports) if (p.host !== undefined && node.ports.has(p.host)) return false;
    return true;
  },
  explain: (n, req) => `${n} host port in use (needs ${hostPorts(req).join(', ')})`,
};

/** `constraints.node` is the node's id or name, and every `constraints.labels` entry equals the node's label. */
export const constraintsFilter: Filter = {
  name: 'constraints',
  appliesTo: (req) => req.spec.constraints.node !== undefined || Object.keys(req.spec.constraints.labels ?? {}).length > 0,
  check: (req, node) => {
    const c = req.spec.constraints;
    if (c.node !== undefined && c.node !== node.id && c.node !== node.name) return false;
    if (c.labels) for (const k in c.labels) if (node.labels[k] !== c.labels[k]) return false;
    return true;
  },
  explain: (n, req) => {
    const c = req.spec.constraints;
    const parts = [...(c.node !== undefined ? [`node=${c.node}`] : []), ...Object.entries(c.labels ?? {}).map(([k, v]) => `${k}=${v}`)];
    return `${n} not matching constraints (${parts.join(', ')})`;
  },
};

/** Every filter, in the order they run (cheap and coarse first; the first that refuses a node is its reason). */
export const DEFAULT_FILTERS: readonly Filter[] = Object.freeze([availableFilter, readyFilter, runtimeFilter, constraintsFilter, cpuFilter, memoryFilter, diskFilter, portsFilter]);

/** The filters of `filters` that apply to `req`, in order. */
export function filtersFor(req: PlacementRequest, filters: readonly Filter[]): Filter[] {
  return filters.filter((f) => f.appliesTo === undefined || f.appliesTo(req));
}
