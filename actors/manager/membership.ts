/**
 * Who may link (cluster identity, issue 11). The store's cluster id is made
 * once and kept in the store; a worker says the id of the cluster it belongs
 * to in its hello. One of another cluster — the manager was pointed at a new
 * data dir, or its store was emptied or replaced — is refused loudly (an error
 * frame GOAT_ERR_FOREIGN_CLUSTER, a log line, a `node.refused` event, the node
 * listed as `refused` with the reason) and its tasks are never touched, until
 * a person adopts it: then its tasks (and, for services this store does not
 * know, the services, from the specs the worker sends) are taken over as they
 * run, not restarted.
 */
import { GoatError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { admission, CLUSTER_ID_KEY, newClusterId } from '../../lib/cluster-id.js';
import { isTerminal, normalizeServiceSpec, type NodeRecord, type TaskRecord, type TaskSpec } from '../../lib/model/index.js';
import { canonicalJson } from '../../lib/store/sqlite.js';
import type { Journal } from '../../lib/manager/index.js';
import type { StoreCell } from '../../lib/store/index.js';
import type { Clock } from '../../lib/supervision/index.js';
import type { HelloBody } from '../../transport/frames.js';

/**
 * A task's spec as the service's when they are the same spec (whatever the
 * order of their keys): controllers compare specs as text, and a task whose
 * spec text differs from its service's is taken as outdated and replaced.
 */
function asStored(spec: TaskSpec, serviceTask: TaskSpec): TaskSpec {
  return canonicalJson(spec) === canonicalJson(serviceTask) ? serviceTask : spec;
}

/** The store's cluster id, made (and stored) on first need. */
export function ensureClusterId(store: Pick<StoreCell, 'getMeta' | 'setMeta'>): string {
  const id = store.getMeta(CLUSTER_ID_KEY);
  if (id) return id;
  const made = newClusterId();
  store.setMeta(CLUSTER_ID_KEY, made);
  return made;
}

/** What the manager needs for admissions. */
export interface MembershipDeps {
  store: StoreCell;
  journal: Journal;
  clock: Clock;
  log: Logger;
  /** Tells a service's controller to look again (after an adoption brought its tasks). */
  reconcile: (service: string) => void;
}

/** The manager's gate for worker hellos, and the nodes it refused. */
export class Membership {
  readonly #refused = new Map<string, NodeRecord & { refused: NonNullable<NodeRecord['refused']> }>();
  readonly #adopting = new Set<string>();

  constructor(readonly clusterId: string, private readonly d: MembershipDeps) {}

  /** Nodes refused since this manager started (not stored: a worker says hello again every few seconds). */
  refused(): NodeRecord[] {
    return [...this.#refused.values()];
  }

  /** Decides on a hello: the welcome's cluster id, or the error the worker is refused with. */
  admit(hello: HelloBody): { clusterId: string } | GoatError {
    const verdict = admission(this.clusterId, hello.clusterId, this.#adopting.has(hello.nodeId));
    if (verdict === 'refuse') return this.#refuse(hello);
    if (verdict === 'adopt') this.#adopt(hello);
    this.#refused.delete(hello.nodeId);
    return { clusterId: this.clusterId };
  }

  /**
   * A person adopts a refused node: its next hello is let in, and its tasks
   * are taken over. GOAT_ERR_NOT_FOUND when no node of that id or name was
   * refused (a member needs no adoption).
   */
  adopt(which: string): NodeRecord {
    const node = this.#refused.get(which) ?? [...this.#refused.values()].find((n) => n.name === which);
    if (!node) throw new GoatError('GOAT_ERR_NOT_FOUND', `no refused node '${which}' (goat-cluster nodes lists refused ones; a member needs no adoption)`, { details: { node: which } });
    this.#adopting.add(node.id);
    this.d.log.info(`node ${node.name} (${node.id}) of cluster ${node.refused.clusterId} will be adopted into ${this.clusterId} at its next hello`);
    return node;
  }

  #refuse(hello: HelloBody): GoatError {
    const now = this.d.clock.now();
    const live = hello.tasks.filter((t) => !isTerminal(t.state)).length;
    const reason = `node ${hello.name} (${hello.nodeId}) belongs to cluster ${hello.clusterId}, and this manager's store to cluster ${this.clusterId} `
      + `(a new data dir, or a store emptied or replaced?): refused, its ${live} task(s) left running; to take it and its tasks into this cluster: goat-cluster adopt ${hello.nodeId}`;
    const before = this.#refused.get(hello.nodeId);
    this.#refused.set(hello.nodeId, {
      id: hello.nodeId, name: hello.name, status: 'refused', labels: hello.labels, capacity: hello.capacity, usage: { tasks: live, memoryMb: 0, cpuSeconds: 0 },
      runtime: hello.runtime, lastSeenAt: now, createdAt: before?.createdAt ?? now, updatedAt: now, refused: { reason, clusterId: hello.clusterId!, tasks: live },
    });
    if (!before) {
      // Once per node (it says hello again every few seconds): a log line and an event.
      this.d.log.warn(reason);
      this.d.journal.tx(() => this.d.journal.event('node.refused', hello.nodeId, { name: hello.name, clusterId: hello.clusterId, managerClusterId: this.clusterId, tasks: live, reason }));
    }
    return new GoatError('GOAT_ERR_FOREIGN_CLUSTER', reason, { details: { node: hello.nodeId, clusterId: hello.clusterId, managerClusterId: this.clusterId } });
  }

  /** Takes over what an adopted node runs: its tasks as they are, and the services this store lacks (from their specs). */
  #adopt(hello: HelloBody): void {
    this.#adopting.delete(hello.nodeId);
    const { store, journal } = this.d;
    const now = this.d.clock.now();
    const specs = hello.specs ?? {};
    const candidates = hello.tasks.filter((t) => !isTerminal(t.state) && specs[t.taskId] !== undefined && !store.getTask(t.taskId));
    const byService = new Map<string, typeof candidates>();
    for (const t of candidates) byService.set(t.service, [...(byService.get(t.service) ?? []), t]);
    const adopted: TaskRecord[] = [];
    const created: string[] = [];
    journal.tx(() => {
      for (const [name, tasks] of byService) {
        let service = store.getService(name);
        if (!service) {
          // The newest generation's spec, and as many replicas as slots seen: what the node shows of the service.
          const newest = tasks.reduce((a, b) => (b.generation > a.generation ? b : a));
          const put = store.putService(normalizeServiceSpec({ name, replicas: Math.max(...tasks.map((t) => t.slot)) + 1, task: specs[newest.taskId] }), now);
          service = store.getService(name) ?? put; // as stored (its spec's keys as the store keeps them)
          journal.event('service.updated', name, { version: service.version, replicas: service.spec.replicas, adoptedFrom: hello.nodeId });
          created.push(name);
        }
        const taken = new Set(store.listActiveTasks({ service: name }).filter((t) => t.desired === 'running').map((t) => t.slot));
        for (const t of tasks.sort((a, b) => b.generation - a.generation)) {
          if (t.slot >= service.spec.replicas || taken.has(t.slot)) continue; // a slot already filled: the copy is stopped as unknown
          taken.add(t.slot);
          adopted.push({
            id: t.taskId, service: name, slot: t.slot, generation: t.generation, node: hello.nodeId, state: t.state, desired: 'running',
            restarts: t.restarts, lastExit: null, failure: null, error: null, spec: asStored(specs[t.taskId]!, service.spec.task), createdAt: now, updatedAt: now,
            ...(t.state === 'running' ? { runningSince: now, ...(t.healthy === false ? {} : { healthySince: now }) } : {}),
          });
        }
      }
      store.putTasks(adopted);
      journal.event('node.adopted', hello.nodeId, { name: hello.name, fromClusterId: hello.clusterId, clusterId: this.clusterId, tasks: adopted.map((t) => t.id), services: created });
    });
    this.d.log.info(`node ${hello.name} (${hello.nodeId}) adopted from cluster ${hello.clusterId}: ${adopted.length} task(s) taken over as they run${created.length ? `, service(s) ${created.join(', ')} recreated from their specs` : ''}`);
    for (const name of byService.keys()) this.d.reconcile(name);
  }
}
