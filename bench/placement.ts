/**
 * Pure placement throughput: `place()` of 100 services × 100 replicas (0.1 cpu,
 * 128 MiB each) onto 1,000 and 10,000 ready nodes (8 cpus, 16 GiB), spread
 * scorer, all default filters. No baseline runs side by side: the issue
 * compares with published figures (Nomad's C1M: 3,750 placements/s; the
 * Kubernetes scheduler's density test fails under 400 pods/s).
 */
import { normalizeTaskSpec } from '../lib/model/index.js';
import { place, type PlacementRequest, type SchedNode } from '../lib/scheduler/index.js';
import { now } from './measure.js';

/** One placement measurement. */
export interface PlacementBench {
  name: string;
  nodes: number;
  tasks: number;
  /** Median placements per second over the rounds. */
  placementsPerSec: number;
}

/** `count` empty ready nodes, `node-00001`… */
export function benchNodes(count: number): SchedNode[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `node-${String(i).padStart(5, '0')}`, name: `n${i}`, status: 'ready' as const, labels: { zone: `z${i % 3}` },
    capacity: { cpus: 8, memoryMb: 16_384, diskFreeMb: 100_000 },
    reserved: { cpus: 0, memoryMb: 0, diskMb: 0 }, ports: new Set<number>(), tasks: 0, serviceTasks: new Map<string, number>(),
  }));
}

/** `services` × `replicas` requests; the replicas of a service share one spec. */
export function benchRequests(services: number, replicas: number): PlacementRequest[] {
  const out: PlacementRequest[] = [];
  for (let s = 0; s < services; s++) {
    const service = `svc-${s}`;
    const spec = normalizeTaskSpec({ image: 'goat/echo', resources: { cpu: 0.1, memoryMb: 128 } });
    for (let slot = 0; slot < replicas; slot++) out.push({ taskId: `${service}.${slot}.x`, service, slot, spec });
  }
  return out;
}

function measure(nodeCount: number, requests: PlacementRequest[], rounds: number): PlacementBench {
  const table = benchNodes(nodeCount);
  const rates: number[] = [];
  place(requests, table);
  for (let r = 0; r < rounds; r++) {
    const t0 = now();
    const result = place(requests, table);
    const ms = now() - t0;
    if (result.placements.length !== requests.length) throw new Error(`placed ${result.placements.length} of ${requests.length}`);
    rates.push((requests.length * 1000) / ms);
  }
  rates.sort((a, b) => a - b);
  return { name: `place ${requests.length.toLocaleString('en-US')} tasks on ${nodeCount.toLocaleString('en-US')} nodes`, nodes: nodeCount, tasks: requests.length, placementsPerSec: rates[Math.floor(rates.length / 2)]! };
}

/** Placement on 1,000 then 10,000 nodes; `scale` scales the number of tasks (10,000 at 1). */
export function placementBenchmarks(scale = 1): PlacementBench[] {
  const requests = benchRequests(100, Math.max(1, Math.round(100 * scale)));
  return [measure(1_000, requests, 5), measure(10_000, requests, 3)];
}
