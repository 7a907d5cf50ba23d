/**
 * `goat-cluster adopt NODE`: lets a node refused as of another cluster (its
 * manager's store is new, emptied or replaced) into this one. Its tasks are
 * taken over as they run — not restarted — and services this store does not
 * know are recreated from their specs. `nodes` lists refused nodes and why.
 */
import { GoatError } from '../errors.js';
import type { NodeRecord } from '../model/index.js';
import { call } from './client.js';
import type { Command } from './commands.js';

/** The `adopt` command. */
export const adoptCommand: Command = {
  options: {},
  async run(ctx) {
    const which = ctx.args[0];
    if (which === undefined) throw new GoatError('GOAT_ERR_USAGE', 'missing NODE (id or name, as `goat-cluster nodes` shows it)');
    const o = { manager: ctx.manager, token: ctx.token, ca: ctx.ca };
    const node = await call<NodeRecord>(o, 'POST', `/v1/nodes/${encodeURIComponent(which)}/adopt`);
    if (ctx.json) ctx.out.write(`${JSON.stringify(node)}\n`);
    else ctx.out.write(`node ${node.name} (${node.id}) of cluster ${node.refused?.clusterId ?? '?'} will be adopted at its next hello (within a few seconds); its ${node.refused?.tasks ?? 0} task(s) are taken over as they run\n`);
  },
};
