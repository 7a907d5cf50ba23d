/**
 * Loading `cluster.config.ts` without a build step (jiti), validating it with
 * one schema, applying `GOAT_*` environment overrides and the defaults. A bad
 * config names the file, the field and what was expected.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createJiti } from 'jiti';
import { z } from 'zod';
import { GoatError } from '../errors.js';
import type { GoatConfig, ServicesContext } from './types.js';
import { DETECTOR_DEFAULTS, type ServiceSpecInput } from '../model/index.js';
import { LOG_ROTATION_DEFAULTS, type LogRotation } from '../logs/rotate.js';

const listen = z.string().regex(/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/, 'HOST:PORT');
const schema = z.strictObject({
  cluster: z.strictObject({ name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, _ . -').optional(), token: z.string().min(8, 'at least 8 characters').optional(), tlsCa: z.string().min(1).optional() }).optional(),
  manager: z.strictObject({
    listen: listen.optional(), dataDir: z.string().min(1).optional(),
    heartbeatMs: z.number().int().positive().optional(), downAfterMs: z.number().int().positive().optional(),
    scorer: z.enum(['spread', 'binpack']).optional(), metricsToken: z.boolean().optional(),
    tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    etcd: z.strictObject({
      endpoints: z.array(z.string().url('a URL such as http://127.0.0.1:2379')).min(1, 'at least one endpoint'),
      prefix: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, _ . -').optional(),
      leaseTtlMs: z.number().int().min(1_000).max(60_000).optional(),
    }).optional(),
  }).optional(),
  worker: z.strictObject({
    runtime: z.enum(['auto', 'docker', 'process']).optional(), name: z.string().min(1).optional(),
    labels: z.record(z.string(), z.string()).optional(), dataDir: z.string().min(1).optional(),
    allowProcess: z.boolean().optional(),
    logs: z.strictObject({ maxBytes: z.number().int().min(1024).optional(), maxFiles: z.number().int().min(1).max(100).optional() }).optional(),
  }).optional(),
  services: z.union([z.array(z.unknown()), z.custom<(ctx: ServicesContext) => unknown[]>((v) => typeof v === 'function', 'a list or a function')]).optional(),
});

/** A config with every default applied and the environment folded in. */
export interface ResolvedConfig {
  /** The file it came from, or null for defaults only. */
  file: string | null;
  cluster: { name: string; token: string | undefined; tlsCa: string | undefined };
  manager: { listen: string; dataDir: string; heartbeatMs: number; downAfterMs: number; scorer: 'spread' | 'binpack'; metricsToken: boolean; tls: { cert: string; key: string } | null; etcd: { endpoints: string[]; prefix: string; leaseTtlMs: number } | null };
  worker: { runtime: 'auto' | 'docker' | 'process'; name: string | undefined; labels: Record<string, string>; dataDir: string; allowProcess: boolean; logs: LogRotation };
  /** The services for a runtime (validated by the manager when applied). */
  services(ctx: ServicesContext): ServiceSpecInput[];
}

/** The default config file name, looked for in the working directory. */
export const CONFIG_FILE = 'cluster.config.ts';

/** Validates a config object (as the file's default export) and resolves it against `env`. */
export function resolveConfig(raw: unknown, file: string | null, env: NodeJS.ProcessEnv = process.env, base = process.cwd()): ResolvedConfig {
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(root)';
    throw new GoatError('GOAT_ERR_INVALID_CONFIG', `${file ?? 'config'}: ${field}: ${issue.message}`, { details: { file, field, expected: issue.message } });
  }
  const c = parsed.data as GoatConfig;
  const dataDir = resolve(base, env['GOAT_DATA_DIR'] ?? c.manager?.dataDir ?? '.goat');
  const runtime = (env['GOAT_RUNTIME'] ?? c.worker?.runtime ?? 'auto') as ResolvedConfig['worker']['runtime'];
  if (!['auto', 'docker', 'process'].includes(runtime)) {
    throw new GoatError('GOAT_ERR_INVALID_CONFIG', `GOAT_RUNTIME: expected auto, docker or process, got '${runtime}'`, { details: { file: 'GOAT_RUNTIME', field: 'worker.runtime', expected: 'auto | docker | process' } });
  }
  const services = c.services ?? [];
  return {
    file,
    cluster: { name: env['GOAT_CLUSTER'] ?? c.cluster?.name ?? 'goat', token: env['GOAT_TOKEN'] ?? c.cluster?.token, tlsCa: env['GOAT_TLS_CA'] ? resolve(base, env['GOAT_TLS_CA']) : c.cluster?.tlsCa ? resolve(base, c.cluster.tlsCa) : undefined },
    manager: {
      listen: env['GOAT_LISTEN'] ?? c.manager?.listen ?? '127.0.0.1:7070', dataDir,
      heartbeatMs: c.manager?.heartbeatMs ?? DETECTOR_DEFAULTS.heartbeatMs, downAfterMs: c.manager?.downAfterMs ?? DETECTOR_DEFAULTS.downAfterMs, scorer: c.manager?.scorer ?? 'spread',
      metricsToken: c.manager?.metricsToken ?? false,
      tls: tlsOf(env, c.manager?.tls, file, base),
      etcd: etcdOf(env['GOAT_ETCD'], c.manager?.etcd),
    },
    worker: { runtime, name: c.worker?.name, labels: c.worker?.labels ?? {}, dataDir: c.worker?.dataDir ? resolve(base, c.worker.dataDir) : resolve(dataDir, 'worker'), allowProcess: c.worker?.allowProcess ?? false,
      logs: { ...LOG_ROTATION_DEFAULTS, ...definedOnly(c.worker?.logs ?? {}) } },
    services: (ctx) => {
      const list = typeof services === 'function' ? services(ctx) : services;
      if (!Array.isArray(list)) throw new GoatError('GOAT_ERR_INVALID_CONFIG', `${file ?? 'config'}: services: the function must return a list`, { details: { file, field: 'services', expected: 'a list of services' } });
      return list;
    },
  };
}

/**
 * Loads a config file (TypeScript or JavaScript, no build step). Without
 * `file`, `./cluster.config.ts` is used when present, else the defaults.
 */
export async function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<ResolvedConfig> {
  const path = file ? resolve(cwd, file) : resolve(cwd, CONFIG_FILE);
  if (!existsSync(path)) {
    if (file) throw new GoatError('GOAT_ERR_INVALID_CONFIG', `${file}: no such file`, { details: { file, field: '(file)', expected: 'an existing config file' } });
    return resolveConfig({}, null, env, cwd);
  }
  let mod: unknown;
  try {
    const jiti = createJiti(pathToFileURL(path).href, { interopDefault: true, moduleCache: false });
    mod = await jiti.import(path, { default: true });
  } catch (err) {
    throw new GoatError('GOAT_ERR_INVALID_CONFIG', `${path}: cannot load it: ${(err as Error).message}`, { details: { file: path, field: '(file)', expected: 'a module whose default export is defineConfig({...})' }, cause: err });
  }
  return resolveConfig(mod, path, env, cwd);
}

/** The fields of `o` that are set. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `manager.tls` with GOAT_TLS_CERT/GOAT_TLS_KEY folded in (both or neither); null without either. */
function tlsOf(env: NodeJS.ProcessEnv, section: { cert: string; key: string } | undefined, file: string | null, base: string): ResolvedConfig['manager']['tls'] {
  const cert = env['GOAT_TLS_CERT'] ?? section?.cert;
  const key = env['GOAT_TLS_KEY'] ?? section?.key;
  if (cert === undefined && key === undefined) return null;
  if (cert === undefined || key === undefined) {
    const missing = cert === undefined ? 'cert' : 'key';
    throw new GoatError('GOAT_ERR_INVALID_CONFIG', `${file ?? 'config'}: manager.tls.${missing}: TLS needs both a certificate and a key (GOAT_TLS_CERT and GOAT_TLS_KEY)`, { details: { file, field: `manager.tls.${missing}`, expected: 'a PEM file' } });
  }
  return { cert: resolve(base, cert), key: resolve(base, key) };
}

/** `manager.etcd` with GOAT_ETCD (comma-separated endpoints) folded in; null without either. */
function etcdOf(envEndpoints: string | undefined, section: { endpoints: string[]; prefix?: string | undefined; leaseTtlMs?: number | undefined } | undefined): ResolvedConfig['manager']['etcd'] {
  const endpoints = envEndpoints ? envEndpoints.split(',').map((e) => e.trim()).filter(Boolean) : section?.endpoints;
  if (!endpoints || endpoints.length === 0) return null;
  // The file's endpoints are checked by the schema; the variable's here, as strictly.
  const bad = envEndpoints ? endpoints.find((e) => !URL.canParse(e)) : undefined;
  if (bad !== undefined) {
    throw new GoatError('GOAT_ERR_INVALID_CONFIG', `GOAT_ETCD: '${bad}' is not a URL (comma-separated etcd endpoints, e.g. http://127.0.0.1:2379)`, { details: { file: 'GOAT_ETCD', field: 'manager.etcd.endpoints', expected: 'a URL such as http://127.0.0.1:2379' } });
  }
  return { endpoints, prefix: section?.prefix ?? 'goat', leaseTtlMs: section?.leaseTtlMs ?? 3_000 };
}
