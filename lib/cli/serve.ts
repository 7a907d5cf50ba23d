/**
 * The long-running commands: `start` (manager + local worker), `manager`,
 * `worker`. They run until SIGINT/SIGTERM. Settings come from the command
 * line, then `GOAT_*` variables, then `cluster.config.ts`, then defaults.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { consola } from 'consola';
import Docker from 'dockerode';
import { GoatError } from '../errors.js';
import { loadServerTls, readPem, type TlsServerCredentials } from '../tls.js';
import { loadConfig, type ResolvedConfig } from '../config/index.js';
import { packageRoot } from '../package-root.js';
import { Manager } from '../../actors/manager/manager.js';
import { ClusterRoot } from '../../actors/cluster/index.js';
import { HaManager } from '../ha/ha-manager.js';
import { joinCluster, type JoinedWorker } from '../../actors/worker/index.js';
import type { CommandContext } from './commands.js';

type RuntimeChoice = 'auto' | 'docker' | 'process';

interface Settings {
  config: ResolvedConfig;
  dataDir: string;
  listen: string;
  runtime: RuntimeChoice;
  token: string | undefined;
  /** `--allow-process` or `worker.allowProcess`: `auto` may fall back to processes. */
  allowProcess: boolean;
  /** The manager's certificate and key (`--tls-cert`/`--tls-key`, GOAT_TLS_*, `manager.tls`), read and checked. */
  tls: TlsServerCredentials | undefined;
  /** The CA trusted for a TLS manager (`--tls-ca`, GOAT_TLS_CA, `cluster.tlsCa`), PEM. */
  ca: Buffer | undefined;
}

async function settings(ctx: CommandContext): Promise<Settings> {
  const config = await loadConfig(ctx.values['config'] as string | undefined, ctx.env);
  const flag = (k: string): string | undefined => ctx.values[k] as string | undefined;
  const runtime = flag('runtime') ?? config.worker.runtime;
  if (runtime !== 'auto' && runtime !== 'docker' && runtime !== 'process') throw new GoatError('GOAT_ERR_USAGE', `--runtime wants auto, docker or process, got '${runtime}'`);
  const certFlag = flag('tls-cert');
  const keyFlag = flag('tls-key');
  if ((certFlag === undefined) !== (keyFlag === undefined)) throw new GoatError('GOAT_ERR_USAGE', 'TLS needs both --tls-cert FILE and --tls-key FILE');
  const tlsFiles = certFlag !== undefined && keyFlag !== undefined ? { cert: resolve(certFlag), key: resolve(keyFlag) } : config.manager.tls ?? undefined;
  // Unreadable or mismatched files are refused here, before anything is opened or listens.
  const tls = tlsFiles ? loadServerTls(tlsFiles) : undefined;
  const ca = ctx.ca ?? (config.cluster.tlsCa ? readPem(config.cluster.tlsCa, 'ca') : undefined);
  return {
    config,
    tls,
    ca,
    dataDir: flag('data-dir') ? resolve(flag('data-dir')!) : config.manager.dataDir,
    listen: flag('listen') ?? config.manager.listen,
    runtime,
    token: flag('token') ?? config.cluster.token,
    allowProcess: ctx.values['allow-process'] === true || config.worker.allowProcess,
  };
}

/** Resolves when the process is asked to stop. */
function untilSignal(): Promise<string> {
  return new Promise((done) => {
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
  });
}

/** A root that gave up: the error, and the chain of failures that led there. */
interface RootFailure { error: GoatError; chain: string }

/**
 * Waits for a signal or for a root supervisor to give up, whichever comes
 * first. A root that gave up is final, as an OTP node whose top supervisor
 * terminates: `stop` runs, a last log line names the chain, and the command
 * fails (exit code 1) so that systemd or Docker restarts the process.
 */
async function untilSignalOrFailure(ctx: CommandContext, roots: Record<string, { whenFailed(): Promise<RootFailure> }>, stop: () => Promise<void>): Promise<void> {
  const failures = Object.entries(roots).map(([name, r]) => r.whenFailed().then((f) => ({ name, ...f })));
  const first = await Promise.race([untilSignal().then(() => null), ...failures]);
  if (first === null) return stop();
  const line = `goat-cluster: the ${first.name} root supervisor gave up; stopping the process: ${first.chain}`;
  consola.withTag('goat').error(line);
  ctx.err.write(`${line}\n`);
  // Whatever still holds the event loop must not keep a failed node alive.
  setTimeout(() => process.exit(process.exitCode ?? 1), 10_000).unref();
  await stop().catch(() => undefined);
  throw new GoatError('GOAT_ERR_ESCALATED', `${first.name} gave up: ${first.chain}`, { details: { chain: first.chain }, cause: first.error });
}

function startManager(s: Settings, root?: ClusterRoot): Promise<Manager> {
  const m = s.config.manager;
  return Manager.start({ dataDir: s.dataDir, listen: s.listen, heartbeatMs: m.heartbeatMs, downAfterMs: m.downAfterMs, scorer: m.scorer, api: { metricsToken: m.metricsToken }, ...(s.token ? { token: s.token } : {}), ...(s.tls ? { tls: s.tls } : {}), ...(root ? { root } : {}) });
}

/** Builds the package's own images (`goat/echo`, `goat/faulty`) a Docker service needs and the engine lacks. */
async function buildMissingImages(images: string[]): Promise<void> {
  const ours = images.filter((i) => /^goat\/(echo|faulty)(:latest)?$/.test(i));
  if (ours.length === 0) return;
  const docker = new Docker();
  const missing: string[] = [];
  for (const image of ours) {
    if (!(await docker.getImage(image.includes(':') ? image : `${image}:latest`).inspect().then(() => true, () => false))) missing.push(image.replace(/^goat\//, '').replace(/:latest$/, ''));
  }
  if (missing.length === 0) return;
  consola.withTag('goat').start(`building ${missing.map((m) => `goat/${m}`).join(', ')} (first use; no registry needed)…`);
  const build = (await import(pathToFileURL(join(packageRoot(import.meta.url), 'images', 'build.mjs')).href)) as { buildImages(o: { docker: Docker; apps: string[] }): Promise<unknown> };
  await build.buildImages({ docker, apps: missing });
  consola.withTag('goat').success('images built');
}

/** Applies the config's services (declarative: each is created or updated). */
async function applyServices(ctx: CommandContext, s: Settings, manager: Manager, runtime: 'docker' | 'process'): Promise<void> {
  const services = s.config.services({ runtime });
  if (runtime === 'docker') await buildMissingImages(services.map((x) => (x.task as { image?: string }).image).filter((i): i is string => typeof i === 'string'));
  for (const svc of services) {
    try {
      const { record, created } = await manager.putService(svc);
      ctx.out.write(`goat-cluster: service ${record.name} ${created ? 'created' : 'up to date'} from ${s.config.file}: ${record.spec.replicas} replica(s)\n`);
    } catch (err) {
      if (err instanceof GoatError && err.code === 'GOAT_ERR_INVALID_SPEC') {
        throw new GoatError('GOAT_ERR_INVALID_CONFIG', `${s.config.file}: services: ${err.message}`, { details: { file: s.config.file, field: `services.${String(err.details['field'])}`, expected: err.details['problem'] }, cause: err });
      }
      throw err;
    }
  }
}

/** `goat-cluster start`: a manager and one local worker in one process, then the config's services. */
export async function start(ctx: CommandContext): Promise<void> {
  const s = await settings(ctx);
  // One tree for the process: /cluster/manager and /cluster/worker under one `cluster` root.
  const root = await ClusterRoot.start();
  let manager: Manager;
  try {
    manager = await startManager(s, root);
  } catch (err) {
    await root.stop();
    throw err;
  }
  let worker: JoinedWorker | undefined;
  try {
    worker = await joinCluster({ root,
      join: manager.url, token: manager.token.token, dataDir: s.config.worker.dataDir === join(s.config.manager.dataDir, 'worker') ? join(s.dataDir, 'worker') : s.config.worker.dataDir,
      runtime: s.runtime, name: s.config.worker.name ?? 'local', labels: s.config.worker.labels, cluster: s.config.cluster.name, allowProcess: s.allowProcess, logRotation: s.config.worker.logs,
      // The local worker trusts the manager's own certificate (self-signed), or the CA given.
      ...(s.tls ? { tlsCa: s.ca ?? s.tls.cert } : {}),
    });
    ctx.out.write(`goat-cluster: manager at ${manager.url}; ${manager.token.file ? `token in ${manager.token.file}` : 'token as given'}; local worker ${worker.worker.nodeId} (${worker.worker.runtimeChoice.kind} runtime)\n`);
    if (worker.worker.runtimeChoice.refusesTasks) ctx.err.write(`goat-cluster: the local worker takes no tasks while ${worker.worker.runtimeChoice.refusesTasks}\n`);
    await applyServices(ctx, s, manager, worker.worker.runtimeChoice.kind);
  } catch (err) {
    await worker?.stop();
    await manager.stop();
    await root.stop();
    throw err;
  }
  const local = worker;
  await untilSignalOrFailure(ctx, { cluster: root }, async () => {
    await local.stop();
    await manager.stop();
    await root.stop();
  });
}

/** `goat-cluster manager`. */
export async function manager(ctx: CommandContext): Promise<void> {
  const s = await settings(ctx);
  const etcdFlag = ctx.values['etcd'] as string | undefined;
  const etcd = etcdFlag !== undefined
    ? { endpoints: etcdFlag.split(',').map((e) => e.trim()).filter(Boolean), prefix: s.config.manager.etcd?.prefix ?? 'goat', leaseTtlMs: s.config.manager.etcd?.leaseTtlMs ?? 3_000 }
    : s.config.manager.etcd;
  if (etcd) {
    if (etcd.endpoints.length === 0) throw new GoatError('GOAT_ERR_USAGE', '--etcd wants URL[,URL…], e.g. http://127.0.0.1:2379');
    // Several managers on etcd: one leads, the others forward and redirect (lib/ha).
    const m = s.config.manager;
    const ha = await HaManager.start({ dataDir: s.dataDir, listen: s.listen, heartbeatMs: m.heartbeatMs, downAfterMs: m.downAfterMs, scorer: m.scorer, api: { metricsToken: m.metricsToken }, etcd, ...(s.token ? { token: s.token } : {}), ...(s.tls ? { tls: s.tls } : {}), ...(s.ca ? { tlsCa: s.ca } : {}) });
    ctx.out.write(`goat-cluster: manager ${ha.id} at ${ha.url} (${ha.role}); etcd ${etcd.endpoints.join(',')} prefix ${etcd.prefix}\n`);
    await untilSignal();
    await ha.stop();
    return;
  }
  const m = await startManager(s);
  ctx.out.write(`goat-cluster: manager at ${m.url}; ${m.token.file ? `token in ${m.token.file}` : 'token as given'}\n`);
  await untilSignalOrFailure(ctx, { cluster: m }, () => m.stop());
}

/** `goat-cluster worker --join URL --token T`. */
export async function worker(ctx: CommandContext): Promise<void> {
  const joinUrl = ctx.values['join'] as string | undefined;
  if (!joinUrl) throw new GoatError('GOAT_ERR_USAGE', 'worker needs --join ws://HOST:PORT (wss:// or https:// for a manager with TLS; several comma-separated)');
  if (!ctx.token) throw new GoatError('GOAT_ERR_USAGE', 'worker needs --token T (or GOAT_TOKEN)');
  const s = await settings(ctx);
  const name = (ctx.values['name'] as string | undefined) ?? s.config.worker.name;
  const dataDir = ctx.values['data-dir'] ? resolve(ctx.values['data-dir'] as string) : s.config.worker.dataDir;
  const w = await joinCluster({ join: joinUrl.split(','), token: ctx.token, dataDir, runtime: s.runtime, labels: s.config.worker.labels, cluster: s.config.cluster.name, allowProcess: s.allowProcess, logRotation: s.config.worker.logs, ...(name ? { name } : {}), ...(s.ca ? { tlsCa: s.ca } : {}) });
  ctx.out.write(`goat-cluster: worker ${w.worker.nodeId} (${w.worker.runtimeChoice.kind} runtime) joining ${joinUrl}\n`);
  if (w.worker.runtimeChoice.refusesTasks) ctx.err.write(`goat-cluster: this node takes no tasks while ${w.worker.runtimeChoice.refusesTasks}\n`);
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
  await untilSignalOrFailure(ctx, { cluster: w.worker }, () => w.stop());
}
