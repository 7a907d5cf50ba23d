/** The introspection shape of a supervision tree: what `/v1/tree`, the REPL and the inspector show. */
import type { ServiceInfo } from '../model/slots.js';
import type { ErrorInfo, Strategy } from './types.js';

/** Where a child stands. */
export type ChildStatus = 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped' | 'failed';

/** One node of the tree. */
export interface TreeNode {
  id: string;
  /** Actor path, e.g. `/cluster/worker/tasks/web.0.x1`. */
  path: string;
  kind: 'supervisor' | 'worker';
  status: ChildStatus;
  /** Restarts inside the current budget window. */
  restarts: number;
  /** When a scheduled restart fires (ms, the tree's clock), or null. */
  nextRestartAt: number | null;
  /** The last crash, or null. */
  lastError: ErrorInfo | null;
  /** For supervisors: their strategy. */
  strategy?: Strategy;
  /** For supervisors: their children, in start order. */
  children?: TreeNode[];
  /**
   * Set on a subtree that is the last one known, not live (a worker whose
   * node is `down`): since when (ms) and why. The inspector greys it.
   */
  stale?: { since: number; reason: string };
  /**
   * Set on the manager's `services/<name>`: the service's status, rollout
   * and slots (each slot's current task, and when a waiting one is re-placed).
   */
  service?: ServiceInfo;
  /** A short label shown after the status (e.g. a manager's `leader, epoch 42`). */
  note?: string;
}
