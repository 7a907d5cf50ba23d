/**
 * "Nothing happens afterwards", as a condition instead of a sleep: waits
 * until the cluster has nothing in flight that could still change a task —
 * no task pending, assigned or starting in the manager's store, no stop a
 * node actor still waits to be acknowledged, no scheduled placement round,
 * and every task actor of every worker running with no restart scheduled.
 * A duplicate or a restart that would "show later" has to come from one of
 * these; once none is left, the counts checked after it are final.
 */
import { AdminClient } from '../../lib/repl/index.js';
import type { TreeNode } from '../../lib/supervision/index.js';
import { eventually } from '../runtime/helpers/wait.js';

/** What quiescent() needs of a cluster: its API and admin channel. */
export interface Reachable {
  readonly url: string;
  readonly token: string;
  api<T = unknown>(method: string, path: string): Promise<{ status: number; json: T }>;
}

const BUSY = new Set(['pending', 'assigned', 'starting', 'restarting', 'exited']);

function walk(n: TreeNode, out: TreeNode[] = []): TreeNode[] {
  out.push(n);
  for (const c of n.children ?? []) walk(c, out);
  return out;
}

/** Resolves once nothing is in flight (see above); rejects naming what still is after `timeoutMs`. */
export async function quiescent(c: Reachable, timeoutMs = 15_000): Promise<void> {
  const admin = new AdminClient(c.url, c.token);
  try {
    await admin.opened;
    let why = '';
    await eventually('nothing in flight in the cluster', async () => {
      const tasks = (await c.api<{ id: string; state: string; desired?: string }[]>('GET', '/v1/tasks')).json;
      const busy = tasks.filter((t) => BUSY.has(t.state));
      if (busy.length > 0) return void (why = `tasks ${busy.map((t) => `${t.id}:${t.state}`).join(', ')}`);
      const tree = (await c.api<TreeNode>('GET', '/v1/tree')).json;
      const all = walk(tree);
      const restarting = all.filter((n) => /\/worker\/tasks\/[^/]+$/.test(n.path) && (n.status !== 'running' || n.nextRestartAt !== null));
      if (restarting.length > 0) return void (why = `task actors ${restarting.map((n) => `${n.path}:${n.status}`).join(', ')}`);
      for (const node of all.filter((n) => /^\/cluster\/manager\/nodes\/[^/]+$/.test(n.path) && n.status === 'running')) {
        const state = (await admin.request('ask', { path: node.path, message: { type: '$state' } })) as { stopping?: unknown[] };
        if ((state.stopping ?? []).length > 0) return void (why = `${node.path} waits for ${(state.stopping ?? []).length} stop(s)`);
      }
      const scheduler = (await admin.request('ask', { path: '/cluster/manager/scheduler', message: { type: '$state' } })) as { requested?: boolean };
      if (scheduler.requested === true) return void (why = 'a placement round is requested');
      return true;
    }, timeoutMs, 100).catch((err: Error) => {
      throw new Error(`${err.message}: ${why}`);
    });
  } finally {
    admin.close();
  }
}
