/**
 * One tree for the whole cluster: the manager's own tree, and under each
 * `nodes/<id>` the tree of that node's worker — from the worker itself when
 * it runs in this process, else as the worker sent it over its link. A node
 * that is gone keeps its last known subtree, marked stale. Admin `send`/`ask`
 * to a path inside a worker's subtree are routed to that worker.
 */
import { GoatError } from '../../lib/errors.js';
import type { TreeNode } from '../../lib/supervision/index.js';
import { adminCall, noActorAt, type AdminCall, type Inspectable } from '../supervision/index.js';

/** Where a worker's subtree comes from. Its paths are the worker's own (`/worker/...`). */
export interface NodeTreeSource {
  /** The worker's tree as last known, or null. */
  tree(): TreeNode | null;
  /** Null while live; else since when (ms) the subtree is only the last one known. */
  staleSince(): number | null;
  /** Answers an admin `send`/`ask` to a path of the worker's own tree. */
  call(call: AdminCall): Promise<unknown>;
}

/** A worker in this process as a {@link NodeTreeSource}. */
export function localSource(tree: () => TreeNode, inspect: Inspectable): NodeTreeSource {
  return { tree, staleSince: () => null, call: (c) => adminCall(inspect, c) };
}

/** Rewrites every path of `node` with `prefix` in front. */
export function rebase(node: TreeNode, prefix: string): TreeNode {
  const out: TreeNode = { ...node, path: `${prefix}${node.path}` };
  if (node.children) out.children = node.children.map((c) => rebase(c, prefix));
  return out;
}

function mark(node: TreeNode, stale: { since: number; reason: string }): TreeNode {
  return { ...node, stale, ...(node.children ? { children: node.children.map((c) => mark(c, stale)) } : {}) };
}

/** The manager's view of every node's subtree. */
export class ClusterTree {
  readonly #sources = new Map<string, NodeTreeSource>();

  /** Shows (and routes to) `source` under `nodes/<nodeId>`; replaces an earlier one. */
  attach(nodeId: string, source: NodeTreeSource): void {
    this.#sources.set(nodeId, source);
  }

  /** Forgets a node's subtree. */
  detach(nodeId: string, source?: NodeTreeSource): void {
    if (!source || this.#sources.get(nodeId) === source) this.#sources.delete(nodeId);
  }

  /**
   * The manager's snapshot with each node's worker grafted under its
   * `nodes/<id>`. A node whose actor is gone (down) but whose subtree is
   * known is shown as a stopped `nodes/<id>` with the subtree, stale.
   */
  graft(root: TreeNode, now: number): TreeNode {
    const nodes = findChild(root, 'nodes');
    if (!nodes) return root;
    const children = [...(nodes.children ?? [])];
    const seen = new Set(children.map((c) => c.id));
    for (const [id, source] of this.#sources) {
      if (seen.has(id) || source.tree() === null) continue;
      children.push({ id, path: `${nodes.path}/${id}`, kind: 'worker', status: 'stopped', restarts: 0, nextRestartAt: null, lastError: null });
    }
    nodes.children = children.map((child) => {
      const source = this.#sources.get(child.id);
      const tree = source?.tree();
      if (!source || !tree) return child;
      let sub = rebase(tree, child.path);
      const since = source.staleSince();
      if (since !== null) sub = mark(sub, { since, reason: `last known ${Math.round((now - since) / 100) / 10}s ago` });
      return { ...child, kind: 'supervisor' as const, children: [sub] };
    });
    return root;
  }

  /** Routes an admin call into a worker's subtree when its path is there; null when the path is the manager's own. */
  route(nodesPath: string, call: AdminCall): Promise<unknown> | null {
    if (!call.path.startsWith(`${nodesPath}/`)) return null;
    const [nodeId, ...rest] = call.path.slice(nodesPath.length + 1).split('/');
    if (!nodeId || rest.length === 0) return null;
    const source = this.#sources.get(nodeId);
    if (!source) return null;
    if (source.staleSince() !== null) {
      return Promise.reject(new GoatError('GOAT_ERR_LINK_CLOSED', `node ${nodeId} is not linked: ${call.path} is only its last known tree`, { temporary: true, details: { path: call.path, nodeId } }));
    }
    const local = `/${rest.join('/')}`;
    return source.call({ ...call, path: local }).catch((err: unknown) => {
      if (err instanceof GoatError && err.code === 'GOAT_ERR_NO_SUCH_CHILD') throw noActorAt(call.path);
      throw err;
    });
  }
}

function findChild(node: TreeNode, id: string): TreeNode | undefined {
  return node.children?.find((c) => c.id === id);
}
