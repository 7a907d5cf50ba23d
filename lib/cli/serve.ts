/** The long-running commands: `start` (manager + local worker), `manager`, `worker`. They run until SIGINT/SIGTERM. */
import { join } from 'node:path';
import { GoatError } from '../errors.js';
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster, type JoinedWorker } from '../../actors/worker/index.js';
import type { CommandContext } from './commands.js';

type RuntimeChoice = 'auto' | 'docker' | 'process';

function runtimeOf(ctx: CommandContext): RuntimeChoice {
  const r = (ctx.values['runtime'] as string | undefined) ?? ctx.env['GOAT_RUNTIME'] ?? 'auto';
  if (r !== 'auto' && r !== 'docker' && r !== 'process') throw new GoatError('GOAT_ERR_USAGE', `--runtime wants auto, docker or process, got '${r}'`);
  return r;
}

function listenOf(ctx: CommandContext): string {
  return (ctx.values['listen'] as string | undefined) ?? ctx.env['GOAT_LISTEN'] ?? '127.0.0.1:7070';
}

/** Resolves when the process is asked to stop. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const done = (s: string): void => resolve(s);
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
  });
}

function refuseConfig(ctx: CommandContext): void {
  if (ctx.values['config'] !== undefined) throw new GoatError('GOAT_ERR_NOT_IMPLEMENTED', '--config is not supported yet (cluster.config.ts comes with the config loader)');
}

/** `goat-cluster start`: a manager and one local worker in one process. */
export async function start(ctx: CommandContext): Promise<void> {
  refuseConfig(ctx);
  const runtime = runtimeOf(ctx);
  const manager = await Manager.start({ dataDir: ctx.dataDir, listen: listenOf(ctx), ...(ctx.values['token'] ? { token: ctx.values['token'] as string } : {}) });
  let worker: JoinedWorker | undefined;
  try {
    worker = await joinCluster({ join: manager.url, token: manager.token.token, dataDir: join(ctx.dataDir, 'worker'), runtime, name: 'local' });
  } catch (err) {
    await manager.stop();
    throw err;
  }
  ctx.out.write(`goat-cluster: manager at ${manager.url}; ${manager.token.file ? `token in ${manager.token.file}` : 'token as given'}; local worker ${worker.worker.nodeId} (${worker.worker.runtimeChoice.kind} runtime)\n`);
  await untilSignal();
  await worker.stop();
  await manager.stop();
}

/** `goat-cluster manager`. */
export async function manager(ctx: CommandContext): Promise<void> {
  refuseConfig(ctx);
  if (ctx.values['etcd'] !== undefined) throw new GoatError('GOAT_ERR_NOT_IMPLEMENTED', '--etcd is not supported yet (the etcd store and leader election come with high availability)');
  const m = await Manager.start({ dataDir: ctx.dataDir, listen: listenOf(ctx), ...(ctx.values['token'] ? { token: ctx.values['token'] as string } : {}) });
  ctx.out.write(`goat-cluster: manager at ${m.url}; ${m.token.file ? `token in ${m.token.file}` : 'token as given'}\n`);
  await untilSignal();
  await m.stop();
}

/** `goat-cluster worker --join URL --token T`. */
export async function worker(ctx: CommandContext): Promise<void> {
  const joinUrl = ctx.values['join'] as string | undefined;
  if (!joinUrl) throw new GoatError('GOAT_ERR_USAGE', 'worker needs --join ws://HOST:PORT');
  if (!ctx.token) throw new GoatError('GOAT_ERR_USAGE', 'worker needs --token T (or GOAT_TOKEN)');
  const name = ctx.values['name'] as string | undefined;
  const w = await joinCluster({ join: joinUrl.split(','), token: ctx.token, dataDir: ctx.dataDir, runtime: runtimeOf(ctx), ...(name ? { name } : {}) });
  ctx.out.write(`goat-cluster: worker ${w.worker.nodeId} (${w.worker.runtimeChoice.kind} runtime) joining ${joinUrl}\n`);
  // Say why a link attempt failed (once per distinct reason), and when it is up again.
  let lastReason = '';
  w.link.on('disconnected', (d) => {
    const reason = `${d.code} ${d.reason}`.trim();
    if (reason === lastReason) return;
    lastReason = reason;
    ctx.err.write(`goat-cluster: link to ${d.url} ${d.wasConnected ? 'lost' : 'refused'}: ${reason}${d.retryInMs === null ? '' : `; retrying in ${d.retryInMs} ms`}\n`);
  });
  w.link.on('connected', (c) => {
    lastReason = '';
    ctx.out.write(`goat-cluster: linked to ${c.url}\n`);
  });
  await untilSignal();
  await w.stop();
}
