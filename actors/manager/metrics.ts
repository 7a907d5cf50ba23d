/**
 * `/metrics` in the Prometheus text format (prom-client): `goat_leader` and
 * `goat_epoch` (a follower answers those two alone: transport/follower-server.ts), tasks by state,
 * restarts, nodes by status (read from the store at scrape time), heartbeat
 * lateness and scheduling latency (observed as they happen).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../../lib/supervision/index.js';
import type { Store } from '../../lib/store/index.js';

/** One registry per manager, so several managers in one process do not clash. */
export class ManagerMetrics {
  readonly registry = new Registry();
  readonly #lateness: Histogram;
  readonly #latency: Histogram;
  readonly #placed: Counter;
  readonly #lastBeat = new WeakMap<object, number>();

  /** `epoch`: the leader's epoch (HA), 0 for a single manager; a running Manager always leads. */
  constructor(store: Store, private readonly clock: Clock, epoch = 0) {
    const registry = this.registry;
    new Gauge({ name: 'goat_leader', help: '1 when this manager leads (a single manager always does), 0 for a follower.', registers: [registry] }).set(1);
    new Gauge({ name: 'goat_epoch', help: 'The epoch of the leader this manager knows (HA; 0 for a single manager or while nobody leads).', registers: [registry] }).set(epoch);
    new Gauge({
      name: 'goat_tasks', help: 'Tasks by state.', labelNames: ['state'], registers: [registry],
      collect() {
        this.reset();
        // Counted by the store (an index scan, no records read): the history costs next to nothing.
        for (const [state, n] of Object.entries(store.countTasksByState())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'goat_task_restarts', help: 'Local restarts of the tasks that are not finished, summed.', registers: [registry],
      collect() {
        this.set(store.listActiveTasks().reduce((n, t) => n + t.restarts, 0));
      },
    });
    new Gauge({
      name: 'goat_nodes', help: 'Nodes by status.', labelNames: ['status'], registers: [registry],
      collect() {
        this.reset();
        for (const n of store.listNodes()) this.inc({ status: n.status });
      },
    });
    new Gauge({
      name: 'goat_services', help: 'Services.', registers: [registry],
      collect() {
        this.set(store.listServices().length);
      },
    });
    this.#lateness = new Histogram({
      name: 'goat_heartbeat_interval_seconds', help: 'Time between two heartbeats of a node (lateness shows as values above the interval).',
      buckets: [0.5, 0.9, 1, 1.1, 1.5, 2, 3, 5], registers: [registry],
    });
    this.#latency = new Histogram({
      name: 'goat_scheduling_seconds', help: 'Time to place a round of pending tasks.',
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [registry],
    });
    this.#placed = new Counter({ name: 'goat_placements_total', help: 'Tasks placed on a node.', registers: [registry] });
  }

  /** A node's heartbeat arrived. */
  heartbeat(link: object): void {
    const now = this.clock.now();
    const last = this.#lastBeat.get(link);
    if (last !== undefined) this.#lateness.observe((now - last) / 1000);
    this.#lastBeat.set(link, now);
  }

  /** A placement round took `ms` and placed `placed` tasks. */
  placement(ms: number, placed: number): void {
    this.#latency.observe(ms / 1000);
    this.#placed.inc(placed);
  }

  /** The text of `/metrics`. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
