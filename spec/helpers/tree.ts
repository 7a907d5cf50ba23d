/** Reading a process's supervision tree (`/cluster` → `manager`, `worker`) in tests. */
import type { TreeNode } from '../../lib/supervision/index.js';

/** The manager's subtree (`/cluster/manager`) of a manager's tree or of a `/v1/tree` answer. */
export function managerTree(from: { tree(): TreeNode } | TreeNode): TreeNode {
  const root = 'path' in from ? from : from.tree();
  const manager = root.children?.find((c) => c.path === '/cluster/manager');
  if (!manager) throw new Error(`no /cluster/manager under ${root.path}`);
  return manager;
}
