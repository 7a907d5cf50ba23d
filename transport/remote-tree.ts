/**
 * A worker's supervision tree over its link: flattened to nodes keyed by
 * path, sent whole (`tree_snapshot`) on every link, then as deltas
 * (`tree_delta`: upserts and removes) at most every `minIntervalMs`; and
 * rebuilt on the manager's side.
 */
import type { Clock, TimerId, TreeNode } from '../lib/supervision/index.js';
import type { FlatNode, TreeDeltaBody, TreeSnapshotBody } from './frames.js';

/** The tree as nodes keyed by path, in pre-order. */
export function flatten(tree: TreeNode): Map<string, FlatNode> {
  const out = new Map<string, FlatNode>();
  const walk = (n: TreeNode, parent: string | null, index: number): void => {
    out.set(n.path, {
      path: n.path, parent, index, id: n.id, kind: n.kind, status: n.status, restarts: n.restarts,
      nextRestartAt: n.nextRestartAt, lastError: n.lastError ? { name: n.lastError.name, message: n.lastError.message, ...(n.lastError.code ? { code: n.lastError.code } : {}) } : null,
      ...(n.strategy ? { strategy: n.strategy } : {}),
    });
    (n.children ?? []).forEach((c, i) => walk(c, n.path, i));
  };
  walk(tree, null, 0);
  return out;
}

const same = (a: FlatNode, b: FlatNode): boolean => JSON.stringify(a) === JSON.stringify(b);

/** What changed from `prev` to `next`. */
export function diff(prev: ReadonlyMap<string, FlatNode>, next: ReadonlyMap<string, FlatNode>): { upserts: FlatNode[]; removes: string[] } {
  const upserts = [...next.values()].filter((n) => {
    const p = prev.get(n.path);
    return !p || !same(p, n);
  });
  const removes = [...prev.keys()].filter((k) => !next.has(k));
  return { upserts, removes };
}

/** Builds the tree back from its nodes; null when there is no root. */
export function build(nodes: ReadonlyMap<string, FlatNode>): TreeNode | null {
  const made = new Map<string, TreeNode & { index: number }>();
  for (const n of nodes.values()) {
    const { parent: _parent, index, ...rest } = n;
    made.set(n.path, { ...rest, index, ...(n.kind === 'supervisor' ? { children: [] } : {}) });
  }
  let root: TreeNode | null = null;
  for (const n of nodes.values()) {
    const node = made.get(n.path)!;
    if (n.parent === null) root = node;
    else {
      const parent = made.get(n.parent);
      if (parent) (parent.children ??= []).push(node);
    }
  }
  const strip = (n: TreeNode & { index?: number }): TreeNode => {
    const { index: _i, children, ...rest } = n;
    const out: TreeNode = { ...rest };
    if (children) out.children = [...children].sort((a, b) => ((a as unknown as { index: number }).index - (b as unknown as { index: number }).index)).map(strip);
    return out;
  };
  return root ? strip(root) : null;
}

/** How a {@link TreePublisher} is set up. */
export interface TreePublisherOptions {
  /** The current tree. */
  tree: () => TreeNode;
  /** Sends a frame; false when the link is down (the next link starts with a snapshot anyway). */
  send: (type: 'tree_snapshot' | 'tree_delta', body: TreeSnapshotBody | TreeDeltaBody) => boolean;
  clock: Clock;
  /** At most one delta per this many ms. @default 250 */
  minIntervalMs?: number;
}

/** The worker's side: a snapshot when asked (each new link), then rate-limited deltas after changes. */
export class TreePublisher {
  #last: Map<string, FlatNode> | null = null;
  #seq = 0;
  #timer: TimerId | null = null;
  #lastSentAt = -Infinity;
  #stopped = false;

  constructor(private readonly o: TreePublisherOptions) {}

  /** Sends the whole tree (on every new link). */
  snapshot(): void {
    if (this.#stopped) return;
    const nodes = flatten(this.o.tree());
    if (this.o.send('tree_snapshot', { seq: ++this.#seq, nodes: [...nodes.values()] })) {
      this.#last = nodes;
      this.#lastSentAt = this.o.clock.now();
    } else {
      this.#last = null;
    }
  }

  /** Something in the tree changed: a delta goes out now, or once `minIntervalMs` has passed since the last one. */
  changed(): void {
    if (this.#stopped || this.#timer !== null || this.#last === null) return;
    const wait = Math.max(0, this.#lastSentAt + (this.o.minIntervalMs ?? 250) - this.o.clock.now());
    this.#timer = this.o.clock.setTimeout(() => {
      this.#timer = null;
      this.#flush();
    }, wait);
  }

  /** Stops sending. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.o.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #flush(): void {
    if (this.#stopped || this.#last === null) return;
    const next = flatten(this.o.tree());
    const { upserts, removes } = diff(this.#last, next);
    if (upserts.length === 0 && removes.length === 0) return;
    if (this.o.send('tree_delta', { seq: ++this.#seq, upserts, removes })) {
      this.#last = next;
      this.#lastSentAt = this.o.clock.now();
    } else {
      this.#last = null; // the link is down: the next one starts with a snapshot
    }
  }
}

/** The manager's side: the last known tree of one worker. */
export class RemoteTree {
  #nodes = new Map<string, FlatNode>();
  #tree: TreeNode | null = null;
  #dirty = false;
  /** Frames applied (snapshots and deltas). */
  frames = 0;

  /** Applies a `tree_snapshot` or `tree_delta`. */
  apply(type: 'tree_snapshot' | 'tree_delta', body: TreeSnapshotBody | TreeDeltaBody): void {
    this.frames++;
    if (type === 'tree_snapshot') {
      this.#nodes = new Map((body as TreeSnapshotBody).nodes.map((n) => [n.path, n]));
    } else {
      const d = body as TreeDeltaBody;
      for (const path of d.removes) this.#nodes.delete(path);
      for (const n of d.upserts) this.#nodes.set(n.path, n);
    }
    this.#dirty = true;
  }

  /** The tree as last known, or null before any snapshot. */
  tree(): TreeNode | null {
    if (this.#dirty) {
      this.#tree = build(this.#nodes);
      this.#dirty = false;
    }
    return this.#tree;
  }
}
