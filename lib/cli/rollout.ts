/**
 * `goat-cluster update NAME [run's flags]` (changes only the flags given and
 * rolls the change out) and `goat-cluster rollback NAME`; `--wait` for both.
 */
import { GoatError } from '../errors.js';
import type { CommandContext } from './commands.js';
import { call } from './client.js';
import { SPEC_OPTIONS, numberFlag, specFromFlags } from './spec-flags.js';

/** The flags of `update`: run's task flags, plus the rollout's own. */
export const UPDATE_OPTIONS = {
  ...SPEC_OPTIONS, wait: { type: 'boolean' }, timeout: { type: 'string' },
  'update-parallelism': { type: 'string' }, 'update-delay-ms': { type: 'string' }, 'update-order': { type: 'string' },
  'update-monitor-ms': { type: 'string' }, 'update-failure-action': { type: 'string' }, 'update-max-failure-ratio': { type: 'string' },
} as const;

const usage = (m: string): GoatError => new GoatError('GOAT_ERR_USAGE', m);

/**
 * The PATCH body of `update`: only what the flags give (the same
 * flags-to-spec function as `run`). `-p` and `-e` replace the task's ports
 * and environment as a whole.
 */
export function updateBody(ctx: Pick<CommandContext, 'args' | 'values'>, current: { task: { ports?: { container: number }[] } }): Record<string, unknown> {
  const v = ctx.values;
  const { task, replicas } = specFromFlags(v, current.task.ports ?? []);
  const update: Record<string, unknown> = {};
  const p = numberFlag(v, 'update-parallelism');
  if (p !== undefined) update['parallelism'] = p;
  const d = numberFlag(v, 'update-delay-ms');
  if (d !== undefined) update['delayMs'] = d;
  const m = numberFlag(v, 'update-monitor-ms');
  if (m !== undefined) update['monitorMs'] = m;
  const r = numberFlag(v, 'update-max-failure-ratio');
  if (r !== undefined) update['maxFailureRatio'] = r;
  if (v['update-order']) update['order'] = v['update-order'];
  if (v['update-failure-action']) update['failureAction'] = v['update-failure-action'];
  const body: Record<string, unknown> = {
    ...(replicas !== undefined ? { replicas } : {}),
    ...(Object.keys(task).length ? { task } : {}),
    ...(Object.keys(update).length ? { update } : {}),
  };
  if (Object.keys(body).length === 0) throw usage('update needs at least one flag to change (see run\'s flags)');
  return body;
}

interface ServiceJson {
  name: string; replicas: number; version: number; spec: { task: { ports?: { container: number }[] } };
  update: { state: string; message: string } | null;
}

/** `update NAME [flags]`: PATCH with the flags given. */
export async function update(ctx: CommandContext, client: { manager: string; token: string | undefined }, print: (data: unknown, human: () => string) => void, converge: (name: string, replicas: number) => Promise<void>): Promise<void> {
  const name = ctx.args[0];
  if (!name) throw usage('missing service NAME');
  const current = await call<ServiceJson>(client, 'GET', `/v1/services/${encodeURIComponent(name)}`);
  const svc = await call<ServiceJson>(client, 'PATCH', `/v1/services/${encodeURIComponent(name)}`, updateBody(ctx, current.spec));
  print(svc, () => `service ${svc.name}: version ${svc.version}${svc.update ? `, ${svc.update.state}` : ''}\n`);
  if (ctx.values['wait']) await converge(svc.name, svc.replicas);
}

/** `rollback NAME`: back to the previous spec. */
export async function rollback(ctx: CommandContext, client: { manager: string; token: string | undefined }, print: (data: unknown, human: () => string) => void, converge: (name: string, replicas: number) => Promise<void>): Promise<void> {
  const name = ctx.args[0];
  if (!name) throw usage('missing service NAME');
  const svc = await call<ServiceJson>(client, 'POST', `/v1/services/${encodeURIComponent(name)}/rollback`);
  print(svc, () => `service ${svc.name}: rolling back to version ${svc.version}\n`);
  if (ctx.values['wait']) await converge(svc.name, svc.replicas);
}
