/**
 * What the manager's actors share: not state, but the environment they run
 * in — the journal (the store the `store` actor owns, with its events), the
 * clock, the one detector configuration, the links the transport holds, and
 * `tell`, which delivers a message (data) to an actor by its path, starting
 * a service's controller or a node's actor on first need.
 *
 * The route of a change of replicas: API → `services/<name>` (reconcile) →
 * `scheduler` (place) → `nodes/<id>` (assign) → link. Each hop is a message.
 */
import type { DetectorConfig, NodeRecord, TaskRecord } from '../../lib/model/index.js';
import type { Journal, ReportedTask } from '../../lib/manager/index.js';
import type { Clock } from '../../lib/supervision/index.js';
import type { CommandResult, CommandType, CommandBody } from '../../transport/manager-link.js';
import type { HelloBody } from '../../transport/frames.js';

/**
 * A worker's link as the manager's actors use it: what the transport's
 * `ManagerLink` offers, so that a simulation can attach links of its own
 * (Manager.attachLink) without a WebSocket.
 */
export interface NodeLink {
  /** The worker's hello: who it is and everything it runs. */
  readonly hello: HelloBody;
  readonly nodeId: string;
  /** True until the link closes. */
  readonly open: boolean;
  /** Sends a command, re-sent until acknowledged; rejects when the link closes first. */
  command<T extends CommandType>(type: T, body: CommandBody<T>): Promise<CommandResult>;
  /** Closes the link. */
  close(code?: number, reason?: string): void;
  on(event: 'heartbeat', listener: (body: { seq: number; usage: NodeRecord['usage']; unavailable?: string | undefined }) => void): () => void;
  on(event: 'report', listener: (body: { tasks: ReportedTask[]; seq?: number | undefined }) => void): () => void;
  on(event: 'close', listener: (body: { code: number; reason: string }) => void): () => void;
}

/** Manager-wide settings the actors read. */
export interface ManagerSettings {
  /** The one failure-detector configuration. */
  detector: DetectorConfig;
  /** After a (re)start, no node known from before is declared down during this grace (ms). */
  recoveryGraceMs: number;
  /** How often a node's liveness is checked (ms); the check's lateness is the manager's own event-loop lag. */
  checkMs: number;
  scorer: 'spread' | 'binpack';
  /** The random part of a new task id. */
  newId: () => string;
  /** The leader's epoch (HA), sent with every command; 0 for a single manager. */
  epoch: number;
}

/** The environment of the manager's actors. */
export interface ManagerContext {
  journal: Journal;
  clock: Clock;
  settings: ManagerSettings;
  /** When this manager started (clock ms). */
  startedAt: number;
  /** Delivers a message to the actor at `path` (e.g. `/cluster/manager/services/web`); false when nothing can take it. */
  tell(path: string, message: ManagerMessage): boolean;
  /** The open link of a node, if any (the transport's registry). */
  linkOf(nodeId: string): NodeLink | undefined;
  /** Observes a heartbeat (metrics). */
  onHeartbeat(link: object): void;
  /** Observes a placement round (metrics). */
  onPlacement(ms: number, placed: number): void;
  /** Rolls a service back to its previous spec (a rollout's `failureAction: rollback`). */
  rollback(name: string, message: string): void;
}

/** Messages of `/cluster/manager/store`. */
export type StoreMessage = { type: 'beat'; node: string; usage: NodeRecord['usage']; at: number };
/** Messages of `/cluster/manager/scheduler`. */
export type SchedulerMessage =
  /** Something changed: a round at once. `at`: the wake-up set for a slot's backoff (`placeAt`) fired, so it is gone. */
  | { type: 'place'; at?: number }
  | { type: 'round' };
/** Messages of `/cluster/manager/reconciler`. */
export type ReconcilerMessage = { type: 'sweep' };
/** Messages of `/cluster/manager/services/<name>`. */
/** `wake`: the wake-up set for this time fired, so it is gone (a new one is set when the step still wants one). */
export type ServiceMessage = { type: 'reconcile'; wake?: number };
/** Messages of `/cluster/manager/nodes/<id>`. */
export type NodeMessage =
  | { type: 'linked'; link: NodeLink }
  | { type: 'heartbeat'; linkNo: number; usage: NodeRecord['usage']; unavailable?: string | undefined }
  | { type: 'report'; linkNo: number; tasks: ReportedTask[]; seq?: number | undefined }
  | { type: 'apply-reports' }
  | { type: 'closed'; linkNo: number }
  | { type: 'check'; due: number }
  | { type: 'assign'; task: TaskRecord; resent?: boolean }
  | { type: 'gone'; id: string; generation: number }
  | { type: 'stop'; id: string; generation: number }
  | { type: 'stopped'; id: string; generation: number }
  | { type: 'stop-failed'; id: string; generation: number }
  | { type: 'sync' }
  | { type: 'lose'; id: string; generation: number };
/** Any message between the manager's actors. */
export type ManagerMessage = StoreMessage | SchedulerMessage | ReconcilerMessage | ServiceMessage | NodeMessage;

/** Whether `msg` is an object with a string `type` among `types` (what a REPL user sends may be anything). */
export function isMessage<M extends { type: string }>(msg: unknown, ...types: M['type'][]): msg is M {
  return typeof msg === 'object' && msg !== null && types.includes((msg as { type?: unknown }).type as M['type']);
}
