/**
 * `goat-cluster update NAME [run's flags]` (changes only the flags given and
 * rolls the change out) and `goat-cluster rollback NAME`; `--wait` for both.
 */
import { GoatError } from '../errors.js';
import type { CommandContext } from './commands.js';
import { call } from './client.js';

/** The flags of `update`: run's, plus the rollout's own. */
export const UPDATE_OPTIONS = {
  image: { type: 'string' }, command: { type: 'string' }, replicas: { type: 'string' }, publish: { type: 'string', short: 'p', multiple: true },
  env: { type: 'string', short: 'e', multiple: true }, restart: { type: 'string' }, 'health-http': { type: 'string' }, cpu: { type: 'string' },
  memory: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' },
  'update-parallelism': { type: 'string' }, 'update-delay-ms': { type: 'string' }, 'update-order': { type: 'string' },
  'update-monitor-ms': { type: 'string' }, 'update-failure-action': { type: 'string' }, 'update-max-failure-ratio': { type: 'string' },
} as const;

const usage = (m: string): GoatError => new GoatError('GOAT_ERR_USAGE', m);

/**
 * The PATCH body of `update`: only what the flags give. `-p` and `-e`
 * replace the task's ports and environment as a whole.
 */
export function updateBody(ctx: Pick<CommandContext, 'args' | 'values'>, current: { task: { ports?: { container: number }[] } }): Record<string, unknown> {
  const v = ctx.values;
  if (v['image'] && v['command']) throw usage('update takes at most one of --image I or --command "CMD ..."');
  const num = (k: string): number | undefined => {
    const s = v[k] as string | undefined;
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isFinite(n)) throw usage(`--${k} wants a number, got '${s}'`);
    return n;
  };
  const task: Record<string, unknown> = {};
  if (v['image']) Object.assign(task, { image: v['image'] });
  if (v['command']) Object.assign(task, { command: splitWords(v['command'] as string) });
  const publish = v['publish'] as string[] | undefined;
  if (publish) {
    task['ports'] = publish.map((p) => {
      const m = /^(?:(\d+):)?(\d+)$/.exec(p);
      if (!m) throw usage(`-p wants HOST:CONTAINER or CONTAINER, got '${p}'`);
      return m[1] ? { host: Number(m[1]), container: Number(m[2]) } : { container: Number(m[2]) };
    });
  }
  const env = v['env'] as string[] | undefined;
  if (env) {
    task['env'] = Object.fromEntries(env.map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw usage(`-e wants K=V, got '${kv}'`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }));
  }
  if (v['restart']) task['restart'] = { policy: v['restart'] };
  const healthPath = v['health-http'] as string | undefined;
  if (healthPath) {
    const port = (task['ports'] as { container: number }[] | undefined)?.[0]?.container ?? current.task.ports?.[0]?.container;
    if (port === undefined) throw usage('--health-http needs a port (-p)');
    task['health'] = { http: { path: healthPath, port } };
  }
  const cpu = num('cpu');
  const memoryMb = num('memory');
  if (cpu !== undefined || memoryMb !== undefined) task['resources'] = { ...(cpu !== undefined ? { cpu } : {}), ...(memoryMb !== undefined ? { memoryMb } : {}) };
  const update: Record<string, unknown> = {};
  const p = num('update-parallelism');
  if (p !== undefined) update['parallelism'] = p;
  const d = num('update-delay-ms');
  if (d !== undefined) update['delayMs'] = d;
  const m = num('update-monitor-ms');
  if (m !== undefined) update['monitorMs'] = m;
  const r = num('update-max-failure-ratio');
  if (r !== undefined) update['maxFailureRatio'] = r;
  if (v['update-order']) update['order'] = v['update-order'];
  if (v['update-failure-action']) update['failureAction'] = v['update-failure-action'];
  const replicas = num('replicas');
  const body: Record<string, unknown> = {
    ...(replicas !== undefined ? { replicas } : {}),
    ...(Object.keys(task).length ? { task } : {}),
    ...(Object.keys(update).length ? { update } : {}),
  };
  if (Object.keys(body).length === 0) throw usage('update needs at least one flag to change (see run\'s flags)');
  return body;
}

function splitWords(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
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
