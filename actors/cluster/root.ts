/**
 * The root of a process's tree (DESIGN.md, "The supervision tree"):
 *
 *   cluster        one_for_one; the root of the nact system of this process
 *   ├─ manager     when this process runs a manager (actors/manager)
 *   └─ worker      when this process runs a worker (actors/worker)
 *
 * `goat-cluster start` has both under one root; `manager` and `worker` have
 * one each. Paths are `/cluster/manager/...` and `/cluster/worker/...`.
 * A part that gives up escalates here, and the root gives up at once: the
 * process then exits non-zero with the chain (lib/cli/serve.ts), and its own
 * supervisor (systemd, Docker) starts it afresh.
 */
import { start as startSystem, stop as stopNact } from 'nact';
import { GoatError } from '../../lib/errors.js';
import { EscalationLog, EventBus, systemClock, type Clock, type PathHandle, type Supervisor, type SupervisorChildInput, type SupervisorEvent, type TreeNode } from '../../lib/supervision/index.js';
import { nactSupervisorChild, startSupervisor, type NactRef } from '../supervision/index.js';

/** The root's path. */
export const CLUSTER_PATH = '/cluster';

/** Whether `path` is `prefix` or below it. */
export function within(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** How a cluster root is started. */
export interface ClusterRootOptions {
  /** Where the tree's timers and timestamps come from. @default systemClock */
  clock?: Clock;
}

/** The `cluster` supervisor of this process and its nact system. */
export class ClusterRoot {
  private constructor(
    /** The `/cluster` supervisor. */
    readonly supervisor: Supervisor<NactRef>,
    /** The tree's event bus (every part's events). */
    readonly bus: EventBus,
    private readonly system: NactRef,
    private readonly escalations: EscalationLog,
  ) {}

  /** Starts a nact system with an empty `cluster` supervisor at its root. */
  static async start(options: ClusterRootOptions = {}): Promise<ClusterRoot> {
    const clock = options.clock ?? systemClock;
    const system = startSystem() as unknown as NactRef;
    const bus = new EventBus(clock);
    const escalations = new EscalationLog();
    bus.subscribe((e: SupervisorEvent) => escalations.record(e));
    try {
      // one_for_one with a budget of 0: the parts (manager, worker) each own a budget for their own restarts, and a
      // part that spent it cannot be restarted more completely in-process than by a new process (its port, store
      // files and links belong to the process). So the first part that gives up ends the root, and the process.
      const sup = await startSupervisor(system as never, { id: 'cluster', strategy: 'one_for_one', maxRestarts: 0, windowMs: 60_000, bus, clock });
      return new ClusterRoot(sup, bus, system, escalations);
    } catch (err) {
      stopNact(system);
      throw err;
    }
  }

  /** Starts a part (`manager`, `worker`) as a nested supervisor; resolves with it once its children started. */
  async add(input: SupervisorChildInput<NactRef>): Promise<Supervisor<NactRef>> {
    let part: Supervisor<NactRef> | undefined;
    const onCreated = input.onCreated;
    await this.supervisor.startChild(nactSupervisorChild({
      ...input,
      onCreated: (sup) => {
        part = sup;
        onCreated?.(sup);
      },
    }));
    if (!part) throw new GoatError('GOAT_ERR_SUPERVISOR_STOPPED', `${CLUSTER_PATH}/${input.id} did not start`, { details: { path: `${CLUSTER_PATH}/${input.id}` } });
    return part;
  }

  /** Stops a part and forgets it (nothing when it is not there). */
  async remove(id: string): Promise<void> {
    if (!this.supervisor.childIds().includes(id) || this.supervisor.state !== 'running') return;
    await this.supervisor.stopChild(id).catch(() => undefined);
  }

  /** The parts still here. */
  parts(): string[] {
    return this.supervisor.childIds();
  }

  /** The whole tree of this process, from `/cluster`. */
  snapshot(): TreeNode {
    return this.supervisor.snapshot();
  }

  /** Any path of this process's tree (admin `info`, `state`, `kill`, `send`, `ask`). */
  inspect(path: string): PathHandle | undefined {
    return this.supervisor.inspect(path);
  }

  /** Resolves once the root gave up: its error and the chain of failures that led there. */
  whenFailed(): Promise<{ error: GoatError; chain: string }> {
    return this.supervisor.whenFailed().then((error) => ({ error, chain: this.escalations.chain() || error.message }));
  }

  /** Stops every part, the root and the nact system. */
  async stop(): Promise<void> {
    await this.supervisor.stop();
    stopNact(this.system);
  }
}
