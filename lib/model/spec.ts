/**
 * Service and task specs (DESIGN.md "Service and task spec"): one zod schema,
 * validated once at the edge, {@link TASK_DEFAULTS} applied, a normalized
 * type afterwards.
 */
import { z } from 'zod';
import { GoatError } from '../errors.js';
import { validate } from '../validate.js';
import { TASK_DEFAULTS } from './defaults.js';

const port = z.number().int().min(1).max(65_535);
const ms = z.number().int().min(0);

/** Restart policies, Docker's names. */
export const RESTART_POLICIES = ['no', 'on-failure', 'always', 'unless-stopped'] as const;
/** When a task is restarted where it runs. */
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

/** The task template as users write it. */
export const taskSpecSchema = z.strictObject({
  image: z.string().min(1).optional(),
  command: z.array(z.string()).min(1).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string()).optional(),
  ports: z.array(z.strictObject({ host: port.optional(), container: port })).optional(),
  resources: z.strictObject({ cpu: z.number().positive().optional(), memoryMb: z.number().positive().optional(), diskMb: z.number().min(0).optional() }).optional(),
  restart: z.strictObject({
    policy: z.enum(RESTART_POLICIES).optional(),
    maxRestarts: z.number().int().min(0).optional(),
    windowMs: z.number().int().positive().optional(),
    backoff: z.strictObject({ initialMs: ms.optional(), maxMs: ms.optional(), factor: z.number().min(1).optional(), jitter: z.number().min(0).max(1).optional(), resetAfterMs: ms.optional() }).optional(),
  }).optional(),
  health: z.strictObject({
    http: z.strictObject({ path: z.string().startsWith('/'), port }).optional(),
    tcp: z.strictObject({ port }).optional(),
    exec: z.array(z.string()).min(1).optional(),
    intervalMs: z.number().int().positive().optional(),
    timeoutMs: z.number().int().positive().optional(),
    retries: z.number().int().min(1).optional(),
    startPeriodMs: ms.optional(),
  }).nullable().optional(),
  disconnect: z.strictObject({ lostAfterMs: ms.optional(), replace: z.boolean().optional(), stopAfterMs: ms.optional() }).optional(),
  constraints: z.strictObject({ node: z.string().optional(), labels: z.record(z.string(), z.string()).optional() }).optional(),
  stopTimeoutMs: ms.optional(),
});

/** A task template as users write it. */
export type TaskSpecInput = z.input<typeof taskSpecSchema>;

/** A health check, normalized. */
export interface HealthSpec {
  http?: { path: string; port: number };
  tcp?: { port: number };
  exec?: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

/** A task template, validated, defaults applied. */
export interface TaskSpec {
  image?: string;
  command?: string[];
  env: Record<string, string>;
  ports: { host?: number; container: number }[];
  resources: { cpu?: number; memoryMb?: number; diskMb?: number };
  restart: {
    policy: RestartPolicy;
    maxRestarts: number;
    windowMs: number;
    backoff: { initialMs: number; maxMs: number; factor: number; jitter: number; resetAfterMs: number };
  };
  health: HealthSpec | null;
  disconnect: { lostAfterMs?: number; replace: boolean; stopAfterMs?: number };
  constraints: { node?: string; labels?: Record<string, string> };
  stopTimeoutMs: number;
}

/** Validates a task template once and applies {@link TASK_DEFAULTS}. */
export function normalizeTaskSpec(input: unknown, what = 'task spec'): TaskSpec {
  const raw = validate(taskSpecSchema, input, what);
  if (!raw.image && !raw.command) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `invalid ${what}: image: give an image or a command`, { details: { field: 'image', problem: 'give an image or a command' } });
  }
  const h = raw.health;
  if (h && !h.http && !h.tcp && !h.exec) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `invalid ${what}: health: give http, tcp or exec`, { details: { field: 'health', problem: 'give http, tcp or exec' } });
  }
  checkStartable(raw, what);
  const backoff = { ...TASK_DEFAULTS.backoff, ...definedOnly(raw.restart?.backoff ?? {}) };
  if (backoff.maxMs < backoff.initialMs) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `invalid ${what}: restart.backoff.maxMs must be >= initialMs`, { details: { field: 'restart.backoff.maxMs', problem: 'must be >= initialMs' } });
  }
  return {
    ...(raw.image ? { image: raw.image } : {}),
    ...(raw.command ? { command: raw.command } : {}),
    env: raw.env ?? {},
    ports: raw.ports ?? [],
    resources: raw.resources ?? {},
    restart: {
      policy: raw.restart?.policy ?? TASK_DEFAULTS.restartPolicy,
      maxRestarts: raw.restart?.maxRestarts ?? TASK_DEFAULTS.maxRestarts,
      windowMs: raw.restart?.windowMs ?? TASK_DEFAULTS.windowMs,
      backoff,
    },
    health: h ? { ...TASK_DEFAULTS.health, ...definedOnly(h) } : null,
    disconnect: { replace: raw.disconnect?.replace ?? true, ...definedOnly({ lostAfterMs: raw.disconnect?.lostAfterMs, stopAfterMs: raw.disconnect?.stopAfterMs }) },
    constraints: raw.constraints ?? {},
    stopTimeoutMs: raw.stopTimeoutMs ?? TASK_DEFAULTS.stopTimeoutMs,
  };
}

/**
 * What no worker could ever start is refused here, not looped on later: a NUL
 * byte in an environment value, a command argument or the image (the kernel
 * cannot pass it), and one host port published twice.
 */
function checkStartable(raw: z.output<typeof taskSpecSchema>, what: string): void {
  const refuse = (field: string, problem: string): never => {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `invalid ${what}: ${field}: ${problem}`, { details: { field, problem } });
  };
  for (const [k, v] of Object.entries(raw.env ?? {})) if (v.includes('\0')) refuse(`env.${k}`, 'must not contain a NUL byte');
  raw.command?.forEach((arg, i) => arg.includes('\0') && refuse(`command.${i}`, 'must not contain a NUL byte'));
  if (raw.image?.includes('\0')) refuse('image', 'must not contain a NUL byte');
  const seen = new Map<number, number>();
  raw.ports?.forEach((p, i) => {
    if (p.host === undefined) return;
    const first = seen.get(p.host);
    if (first !== undefined) refuse(`ports.${i}.host`, `host port ${p.host} is already published by ports.${first}`);
    seen.set(p.host, i);
  });
}

function definedOnly<T extends object>(o: T): { [K in keyof T]-?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]-?: Exclude<T[K], undefined> };
}
