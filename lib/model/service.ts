/** Services (desired state: a task template and a replica count) as users write them, validated once. */
import { z } from 'zod';
import { GoatError } from '../errors.js';
import { validate } from '../validate.js';
import { SERVICE_DEFAULTS, TASK_DEFAULTS } from './defaults.js';
import { normalizeTaskSpec, taskSpecSchema, type TaskSpec } from './spec.js';

/** Service names: DNS-label style, they appear in task ids and container names. */
export const SERVICE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

const ms = z.number().int().min(0);

/** Rollout orders: stop the old task first, or start the new one first. */
export const ROLLOUT_ORDERS = ['stop-first', 'start-first'] as const;
/** What a failing rollout does. */
export const FAILURE_ACTIONS = ['pause', 'rollback', 'continue'] as const;

/** `update` and `rollback` blocks as users write them. */
const rolloutSchema = z.strictObject({
  parallelism: z.number().int().min(1).optional(),
  delayMs: ms.optional(),
  order: z.enum(ROLLOUT_ORDERS).optional(),
  monitorMs: ms.optional(),
  maxFailureRatio: z.number().min(0).max(1).optional(),
  failureAction: z.enum(FAILURE_ACTIONS).optional(),
});

/** The `reschedule` block as users write it. */
const rescheduleSchema = z.strictObject({
  initialMs: ms.optional(),
  factor: z.number().min(1).optional(),
  maxMs: ms.optional(),
  jitter: z.number().min(0).max(1).optional(),
  resetAfterMs: ms.optional(),
  maxAttempts: z.number().int().min(0).optional(),
  windowMs: z.number().int().positive().optional(),
});

/** A service as users write it (the body of `PUT /v1/services/:name`). */
export const serviceSpecSchema = z.strictObject({
  name: z.string().regex(SERVICE_NAME, 'lowercase letters, digits and -, at most 63'),
  replicas: z.number().int().min(0).max(10_000).optional(),
  task: taskSpecSchema,
  reschedule: rescheduleSchema.optional(),
  update: rolloutSchema.optional(),
  rollback: rolloutSchema.optional(),
  taskHistory: z.number().int().min(0).max(1_000).optional(),
});

/** A service as users write it. */
export type ServiceSpecInput = z.input<typeof serviceSpecSchema>;

/** How a slot whose task failed is re-placed (Nomad's `reschedule`), normalized. */
export interface RescheduleSpec {
  /** Delay before the first re-placement, in ms. @default 1000 */
  initialMs: number;
  /** Growth per consecutive failure. @default 2 */
  factor: number;
  /** Longest delay, jitter included, in ms; past the budget the slot is re-placed this often. @default 300000 */
  maxMs: number;
  /** Random spread, ±fraction. @default 0.2 */
  jitter: number;
  /** A task that ran this long before failing starts the backoff again from `initialMs`. @default 600000 */
  resetAfterMs: number;
  /** Failures of one slot allowed within `windowMs`; one more and the service is `degraded` with an `alert`. @default 5 */
  maxAttempts: number;
  /** @default 3600000 */
  windowMs: number;
}

/** How a changed task spec rolls out (`update`) or back (`rollback`), normalized. */
export interface RolloutSpec {
  /** Slots replaced at a time. @default 1 */
  parallelism: number;
  /** Wait after a slot is updated before the next one starts, in ms. @default 0 */
  delayMs: number;
  /** @default 'stop-first' */
  order: (typeof ROLLOUT_ORDERS)[number];
  /** A new task is updated once running (and healthy) this long, in ms. @default 5000 */
  monitorMs: number;
  /** Share of new tasks that may fail before `failureAction` applies. @default 0 */
  maxFailureRatio: number;
  /** @default 'pause' */
  failureAction: (typeof FAILURE_ACTIONS)[number];
}

/** A service, validated, defaults applied. */
export interface ServiceSpec {
  name: string;
  /** How many slots (`service/0` … `service/replicas-1`). @default 1 */
  replicas: number;
  task: TaskSpec;
  /** How failed slots are re-placed. */
  reschedule: RescheduleSpec;
  /** How a changed task spec rolls out. */
  update: RolloutSpec;
  /** How a rollback rolls out. */
  rollback: RolloutSpec;
  /** Terminal tasks kept per slot. @default 5 */
  taskHistory: number;
}

/** Validates a service once and applies the defaults; errors name the field (`task.ports.0.container`). */
export function normalizeServiceSpec(input: unknown): ServiceSpec {
  const raw = validate(serviceSpecSchema, input, 'service spec');
  let task: TaskSpec;
  try {
    task = normalizeTaskSpec(raw.task, 'service spec');
  } catch (err) {
    if (err instanceof GoatError && typeof err.details['field'] === 'string') {
      const field = `task.${err.details['field']}`;
      throw new GoatError('GOAT_ERR_INVALID_SPEC', err.message.replace(`${err.details['field']}:`, `${field}:`), { details: { ...err.details, field } });
    }
    throw err;
  }
  const reschedule = { ...SERVICE_DEFAULTS.reschedule, ...definedOnly(raw.reschedule ?? {}) };
  if (reschedule.maxMs < reschedule.initialMs) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', 'invalid service spec: reschedule.maxMs: must be >= initialMs', { details: { field: 'reschedule.maxMs', problem: 'must be >= initialMs' } });
  }
  return {
    name: raw.name,
    replicas: raw.replicas ?? TASK_DEFAULTS.replicas,
    task,
    reschedule,
    update: { ...SERVICE_DEFAULTS.update, ...definedOnly(raw.update ?? {}) },
    rollback: { ...SERVICE_DEFAULTS.rollback, ...definedOnly(raw.rollback ?? {}) },
    taskHistory: raw.taskHistory ?? SERVICE_DEFAULTS.taskHistory,
  };
}

/**
 * A stored spec with the service-level defaults filled in: specs written by
 * an older Goat lack `reschedule`, `update`, `rollback` and `taskHistory`.
 */
export function withServiceDefaults(spec: Omit<ServiceSpec, 'reschedule' | 'update' | 'rollback' | 'taskHistory'> & Partial<ServiceSpec>): ServiceSpec {
  return {
    ...spec,
    reschedule: { ...SERVICE_DEFAULTS.reschedule, ...spec.reschedule },
    update: { ...SERVICE_DEFAULTS.update, ...spec.update },
    rollback: { ...SERVICE_DEFAULTS.rollback, ...spec.rollback },
    taskHistory: spec.taskHistory ?? SERVICE_DEFAULTS.taskHistory,
  };
}

function definedOnly<T extends object>(o: T): { [K in keyof T]-?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]-?: Exclude<T[K], undefined> };
}
