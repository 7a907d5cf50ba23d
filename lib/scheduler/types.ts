/**
 * The scheduler's inputs: the node table (what each node offers and what its
 * tasks already hold) and a placement request (one task to place).
 */
import type { NodeStatus, TaskSpec } from '../model/index.js';

/** One row of the node table: a node as the scheduler sees it. */
export interface SchedNode {
  id: string;
  name: string;
  status: NodeStatus;
  /** Why the node says it takes no tasks now (e.g. `auto` without Docker and without --allow-process); absent when it takes them. */
  unavailable?: string;
  /** How it runs tasks: `docker` (tasks with an image) or `process` (tasks with a command only). @default 'docker' */
  runtime?: 'docker' | 'process';
  labels: Record<string, string>;
  /** What the node offers; `diskFreeMb` undefined means unknown (the disk filter then passes). */
  capacity: { cpus: number; memoryMb: number; diskFreeMb?: number };
  /** What the tasks placed on it request, summed. */
  reserved: { cpus: number; memoryMb: number; diskMb: number };
  /** Host ports its tasks publish. */
  ports: Set<number>;
  /** How many tasks it holds. */
  tasks: number;
  /** How many tasks of each service it holds (services absent: 0). */
  serviceTasks: Map<string, number>;
}

/** One task to place: its slot and its spec. */
export interface PlacementRequest {
  taskId: string;
  service: string;
  slot: number;
  spec: TaskSpec;
  /**
   * Nodes to avoid (where this slot failed, the most recent last: Nomad's
   * node penalty): any other fitting node first; else the one failed on longest ago.
   */
  avoid?: readonly string[];
}
