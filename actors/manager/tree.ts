/**
 * One tree for the whole cluster: the manager's own tree, and under each
 * `nodes/<id>` the tree of that node's worker — from the worker itself when
 * it runs in this process, else as the worker sent it over its link. A node
 * that is gone keeps its last known subtree, marked stale. Admin `send`/`ask`
 * to a path inside a worker's subtree are routed to that worker.
 */
import { GoatError } from '../../lib/errors.js';
import type { ServiceInfo } from '../../lib/model/index.js';
import type { TreeNode } from '../../lib/supervision/index.js';
import type { ManagerLink } from '../../transport/index.js';
import { RemoteTree } from '../../transport/remote-tree.js';
import { adminCall, noActorAt, type AdminCall, type Inspectable } from '../supervision/index.js';

/** Where a worker's subtree comes from. Its paths are the worker's own (`/cluster/worker/...`). */
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

/** A worker's own root, which its paths start with; under the manager it is `nodes/<id>` instead. */
const WORKER_ROOT = '/cluster';

/** Rewrites every path of a worker's `node` with `prefix` in place of its root (`/cluster/worker` → `<prefix>/worker`). */
export function rebase(node: TreeNode, prefix: string): TreeNode {
  const own = node.path === WORKER_ROOT || node.path.startsWith(`${WORKER_ROOT}/`) ? node.path.slice(WORKER_ROOT.length) : node.path;
  const out: TreeNode = { ...node, path: `${prefix}${own}` };
  if (node.children) out.children = node.children.map((c) => rebase(c, prefix));
  return out;
}

function mark(node: TreeNode, stale: { since: number; reason: string }): TreeNode {
  return { ...node, stale, ...(node.children ? { children: node.children.map((c) => mark(c, { since: stale.since, reason: '' })) } : {}) };
}

interface Remote {
  tree: RemoteTree;
  link: ManagerLink | null;
  since: number | null;
}

/** The manager's view of every node's subtree. */
export class ClusterTree {
  /** Workers in this process: shown live from their own supervisor. */
  readonly #local = new Map<string, NodeTreeSource>();
  /** Workers over links: their trees as last sent. */
  readonly #remote = new Map<string, Remote>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Shows (and routes to) a worker of this process under `nodes/<nodeId>`; it wins over what its link sends. */
  attach(nodeId: string, source: NodeTreeSource): void {
    this.#local.set(nodeId, source);
  }

  /** Forgets a local worker's subtree. */
  detach(nodeId: string): void {
    this.#local.delete(nodeId);
  }

  /**
   * A worker linked: its `tree_snapshot`/`tree_delta` frames become its
   * subtree, admin calls to it go over this link; once the link closes the
   * subtree stays, stale, until the worker links again.
   */
  linked(link: ManagerLink): void {
    let r = this.#remote.get(link.nodeId);
    if (!r) {
      r = { tree: new RemoteTree(), link: null, since: null };
      this.#remote.set(link.nodeId, r);
    }
    const remote = r;
    remote.link = link;
    remote.since = null;
    link.on('tree', (f) => (f.type === 'tree_snapshot' ? remote.tree.apply(f.type, f.body) : remote.tree.apply(f.type, f.body)));
    link.on('close', () => {
      if (remote.link !== link) return;
      remote.link = null;
      remote.since = this.now();
    });
  }

  /** How many frames of a node's tree arrived (tests, metrics). */
  framesOf(nodeId: string): number {
    return this.#remote.get(nodeId)?.tree.frames ?? 0;
  }

  #source(nodeId: string): NodeTreeSource | undefined {
    const local = this.#local.get(nodeId);
    if (local) return local;
    const r = this.#remote.get(nodeId);
    if (!r) return undefined;
    return {
      tree: () => r.tree.tree(),
      staleSince: () => r.since,
      call: (c) => {
        if (!r.link) return Promise.reject(new GoatError('GOAT_ERR_LINK_CLOSED', `node ${nodeId} is not linked`, { temporary: true, details: { nodeId } }));
        return r.link.admin({ op: c.type, path: c.path, message: c.message ?? null, timeoutMs: c.timeoutMs ?? 5_000 });
      },
    };
  }

  #ids(): Set<string> {
    return new Set([...this.#local.keys(), ...this.#remote.keys()]);
  }

  /**
   * The manager's snapshot with each node's worker grafted under its
   * `nodes/<id>`. A node whose actor is gone (down) but whose subtree is
   * known is shown as a stopped `nodes/<id>` with the subtree, stale.
   */
  graft(root: TreeNode): TreeNode {
    const nodes = findChild(root, 'nodes');
    if (!nodes) return root;
    const children = [...(nodes.children ?? [])];
    const seen = new Set(children.map((c) => c.id));
    for (const id of this.#ids()) {
      if (seen.has(id) || !this.#source(id)?.tree()) continue;
      children.push({ id, path: `${nodes.path}/${id}`, kind: 'worker', status: 'stopped', restarts: 0, nextRestartAt: null, lastError: null });
    }
    nodes.children = children.map((child) => {
      const source = this.#source(child.id);
      const tree = source?.tree();
      if (!source || !tree) return child;
      let sub = rebase(tree, child.path);
      const since = source.staleSince();
      if (since !== null) sub = mark(sub, { since, reason: 'last known' });
      return { ...child, kind: 'supervisor' as const, children: [sub] };
    });
    return root;
  }

  /** Routes an admin call into a worker's subtree when its path is there; null when the path is the manager's own. */
  route(nodesPath: string, call: AdminCall): Promise<unknown> | null {
    if (!call.path.startsWith(`${nodesPath}/`)) return null;
    const [nodeId, ...rest] = call.path.slice(nodesPath.length + 1).split('/');
    if (!nodeId || rest.length === 0) return null;
    const source = this.#source(nodeId);
    if (!source) return null;
    if (source.staleSince() !== null) {
      return Promise.reject(new GoatError('GOAT_ERR_LINK_CLOSED', `node ${nodeId} is not linked: ${call.path} is only its last known tree`, { temporary: true, details: { path: call.path, nodeId } }));
    }
    const local = `${WORKER_ROOT}/${rest.join('/')}`;
    const prefix = `${nodesPath}/${nodeId}`;
    return source.call({ ...call, path: local }).then((result) => inManagerPaths(result, prefix), (err: unknown) => {
      if (err instanceof GoatError && err.code === 'GOAT_ERR_NO_SUCH_CHILD') throw noActorAt(call.path);
      throw err;
    });
  }
}

/** An `info` or `kill` answer names the worker's own path: give it the manager's, as the REPL user typed it. */
function inManagerPaths(result: unknown, prefix: string): unknown {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return result;
  const r = result as Record<string, unknown>;
  const fix = (k: string): Record<string, unknown> => {
    const v = r[k];
    if (typeof v !== 'string' || !v.startsWith('/')) return {};
    return { [k]: `${prefix}${v === WORKER_ROOT || v.startsWith(`${WORKER_ROOT}/`) ? v.slice(WORKER_ROOT.length) : v}` };
  };
  return { ...r, ...fix('path'), ...fix('killed') };
}

function findChild(node: TreeNode, id: string): TreeNode | undefined {
  return node.children?.find((c) => c.id === id);
}

/**
 * Adds each service's status, rollout and slots to its `services/<name>`
 * node (the manager's own `…/manager/services`); `info` reads them from the
 * store (a read that throws leaves that node without them). Returns `root`,
 * changed in place.
 */
export function withServices(root: TreeNode, info: (name: string) => ServiceInfo): TreeNode {
  const services = findPath(root, (n) => n.id === 'services' && /(^|\/)manager\/services$/.test(n.path));
  for (const child of services?.children ?? []) {
    try {
      child.service = info(child.id);
    } catch {
      // The store cannot be read (being reopened): the tree is shown without the slots.
    }
  }
  return root;
}

function findPath(node: TreeNode, match: (n: TreeNode) => boolean): TreeNode | undefined {
  if (match(node)) return node;
  for (const c of node.children ?? []) {
    if (c.stale) continue; // a worker's last known subtree has no services
    const found = findPath(c, match);
    if (found) return found;
  }
  return undefined;
}
