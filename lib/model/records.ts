/**
 * What the manager keeps (the Store's rows) and shows (the API's JSON):
 * services, tasks and nodes. Plain data.
 */
import type { FailureKind, TaskFailure } from './failure.js';
import type { ServiceSpec } from './service.js';
import type { SlotSupervision } from './slot.js';
import type { TaskSpec } from './spec.js';
import type { TaskState } from './state.js';

/** Where a rollout stands (Swarm's `UpdateStatus`). */
export type RolloutState = 'updating' | 'paused' | 'completed' | 'rolling_back' | 'rolled_back';

/** A service's rollout, durable on the service: a restarted manager resumes it. */
export interface RolloutStatus {
  state: RolloutState;
  /** Why it is in this state, for humans (`ps`, `services`, events). */
  message: string;
  /** The service version this rollout brings the slots to. */
  version: number;
  startedAt: number;
  /** When it ended (completed or rolled back). */
  completedAt?: number;
}

/** Whether a service's slots are running, or some are past their reschedule budget. */
export interface ServiceStatus {
  state: 'running' | 'degraded';
  /** Why it is degraded. */
  reason?: string;
  since: number;
}

/** What the manager keeps on a service besides its spec. */
export interface ServiceState {
  /** The spec before the last change of the task spec: what `rollback` goes back to. */
  previousSpec: ServiceSpec | null;
  /** The last rollout, if any. */
  update: RolloutStatus | null;
  status: ServiceStatus;
}

/** A service as stored: its spec and a version bumped at every change. */
export interface ServiceRecord extends Partial<ServiceState> {
  name: string;
  spec: ServiceSpec;
  /** 1 at creation, +1 at every update. */
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** How a task's program ended (the runtime's ExitInfo, without its log tail). */
export interface LastExit {
  code: number | null;
  signal: string | null;
  oomKilled: boolean;
  message: string;
  finishedAt: number;
}

/** One attempt at filling a slot on one node. */
export interface TaskRecord {
  /** `<service>.<slot>.<nanoid>`. */
  id: string;
  service: string;
  slot: number;
  /** Bumped every time the manager re-places the slot. */
  generation: number;
  /** The node it is placed on, or null while pending. */
  node: string | null;
  state: TaskState;
  /** What the manager wants of it: `running`, or `stopped` (being stopped, or replaced). */
  desired: 'running' | 'stopped';
  /** Local restarts on its node. */
  restarts: number;
  lastExit: LastExit | null;
  failure: TaskFailure | null;
  /** Why it is not running (e.g. why it cannot be placed: the scheduler's explanation). */
  error: { code?: string; message: string } | null;
  /** The spec it runs (the service's task template when it was created). */
  spec: TaskSpec;
  /** Its published ports as its node reported them while it ran (`host` is where to reach it); absent until then. */
  ports?: { host?: number | undefined; container: number }[];
  createdAt: number;
  updatedAt: number;
  /** When it last entered `running` (the reschedule reset counts from it). */
  runningSince?: number;
  /**
   * When its current run passed its first health check; for a task without
   * one, when it started running. The rollout's monitor counts from it.
   */
  healthySince?: number;
  /** Pending: not placed before this time (ms since the epoch): the slot's reschedule backoff. */
  notBefore?: number;
  /** Pending: nodes to avoid (where the slot failed, the most recent last), unless no other node fits. */
  avoid?: string[];
  /** The slot's reschedule history, carried from generation to generation. */
  supervision?: SlotSupervision;
}

/** Node status (DESIGN.md). */
export type NodeStatus = 'ready' | 'degraded' | 'suspect' | 'down' | 'draining' | 'refused';

/** What a node offers. */
export interface NodeCapacity {
  cpus: number;
  memoryMb: number;
  diskFreeMb?: number;
}

/** What a node's tasks use now. */
export interface NodeUsage {
  tasks: number;
  memoryMb: number;
  cpuSeconds: number;
}

/** A worker node as the manager knows it. */
export interface NodeRecord {
  id: string;
  name: string;
  status: NodeStatus;
  labels: Record<string, string>;
  capacity: NodeCapacity;
  usage: NodeUsage;
  /** Runtime kind it runs tasks with. */
  runtime: 'docker' | 'process';
  /** When its last heartbeat arrived (ms since the epoch). */
  lastSeenAt: number;
  createdAt: number;
  updatedAt: number;
  /**
   * Why the node takes no tasks now, as it says (`auto` without Docker and
   * without --allow-process, while Docker does not answer): the scheduler
   * places nothing there meanwhile. Absent when it takes tasks.
   */
  unavailable?: string;
  /**
   * Status `refused`: the node belongs to another cluster (its cluster id is
   * not the store's), so it was not let in and its tasks were left alone,
   * until a person adopts it (`goat-cluster adopt NODE`). Never stored.
   */
  refused?: { reason: string; clusterId: string; tasks: number };
}

/** An event of the cluster's log (task, node, service and supervision changes), numbered. */
export interface ClusterEvent {
  seq: number;
  at: number;
  /** e.g. `task.state`, `node.status`, `service.updated`, `supervision.child_crashed`. */
  type: string;
  /** What it is about: a task id, node id, service name or actor path. */
  subject: string;
  /** Details, JSON-safe. */
  data: Record<string, unknown>;
}

export type { FailureKind };
