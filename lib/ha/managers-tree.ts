/**
 * The managers of an HA cluster as a node of the tree (`/v1/tree`, the
 * inspector): `managers` under the root, one child per manager registered in
 * etcd, its role and epoch in its `note` (`leader, epoch 42` / `follower`),
 * `running` while its registration (under its lease) is there. They are not
 * actors of this tree: admin calls do not reach them.
 */
import type { TreeNode } from '../supervision/index.js';
import type { ManagerInfo } from '../../transport/http-api.js';

/** `root` with a `managers` child listing `managers` (pure). */
export function withManagers(root: TreeNode, managers: readonly ManagerInfo[]): TreeNode {
  const path = `${root.path === '/' ? '' : root.path}/managers`;
  const node: TreeNode = {
    id: 'managers', path, kind: 'supervisor', status: 'running', restarts: 0, nextRestartAt: null, lastError: null,
    note: `${managers.length} on etcd`,
    children: managers.map((m) => ({
      id: m.id, path: `${path}/${m.id}`, kind: 'worker', status: m.healthy ? 'running' : 'stopped',
      restarts: 0, nextRestartAt: null, lastError: null,
      note: m.leader ? `leader, epoch ${m.epoch ?? 0}  ${m.url}` : `follower  ${m.url}`,
    })),
  };
  return { ...root, children: [...(root.children ?? []), node] };
}
