/**
 * lib/scheduler — where tasks go. Pure: no I/O, no actors, no clock.
 *
 * - `types.ts`: the node table row (`SchedNode`) and `PlacementRequest`;
 * - `table.ts`: `buildNodeTable` from the manager's node and task records;
 * - `filters.ts`: ready, constraints, cpu, memory, disk, host ports — each a
 *   `check` and an `explain` (SwarmKit's filters);
 * - `scorers.ts`: `spread` (the default) and `binpack`;
 * - `place.ts`: `place(requests, table, { scorer })`: one filter-and-score pass
 *   over the nodes per group of identical requests, then a scan per task;
 * - `group.ts`: which consecutive requests form such a group;
 * - `explain.ts`: why a task is pending, `0/3 nodes available: …`.
 */
export type { SchedNode, PlacementRequest } from './types.js';
export { buildNodeTable, copyNode, reserve, type PlacedTask } from './table.js';
export {
  DEFAULT_FILTERS,
  availableFilter,
  readyFilter,
  runtimeFilter,
  constraintsFilter,
  cpuFilter,
  memoryFilter,
  diskFilter,
  portsFilter,
  filtersFor,
  type Filter,
} from './filters.js';
export { spread, binpack, SCORERS, type Scorer } from './scorers.js';
export { place, type PlaceOptions, type PlacementResult } from './place.js';
export { explainUnplaced } from './explain.js';
export { sameGroup } from './group.js';
