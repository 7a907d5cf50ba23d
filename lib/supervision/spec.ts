/**
 * Child specs and supervisor flags as data: one schema each, validated once
 * at the edge, defaults applied, a clean internal record afterwards.
 */
import { z } from 'zod';
import { GoatError } from '../errors.js';
import { validate } from '../validate.js';
import { DEFAULTS } from './defaults.js';
import type { BackoffOptions, ChildOptions, RestartBudget, SupervisorFlags } from './types.js';

/** Ids become actor names and path segments: URI-safe characters only. */
export const ID_PATTERN = /^[a-z0-9\-$_.+!*'(),]+$/i;

const backoffSchema = z.strictObject({
  initialMs: z.number().int().min(0).optional(),
  factor: z.number().min(1).optional(),
  maxMs: z.number().int().min(0).optional(),
  jitter: z.number().min(0).max(1).optional(),
  resetAfterMs: z.number().int().min(0).optional(),
});

const budgetSchema = z.strictObject({
  maxRestarts: z.number().int().min(0),
  windowMs: z.number().int().positive(),
});

/** The restart/shutdown part of a child spec as users write it. */
export const childOptionsSchema = z.looseObject({
  id: z.string().regex(ID_PATTERN, 'letters, digits and -$_.+!*\'(), only'),
  restart: z.enum(['permanent', 'transient', 'temporary']).optional(),
  shutdownMs: z.number().int().min(0).optional(),
  backoff: backoffSchema.optional(),
  budget: budgetSchema.nullable().optional(),
  stashLimit: z.number().int().min(0).optional(),
});

/** A supervisor's flags as users write them. */
export const supervisorFlagsSchema = z.looseObject({
  strategy: z.enum(['one_for_one', 'one_for_all', 'rest_for_one']).optional(),
  maxRestarts: z.number().int().min(0).optional(),
  windowMs: z.number().int().positive().optional(),
});

/** Child options as users write them: only `id` is required. */
export interface ChildOptionsInput {
  id: string;
  restart?: ChildOptions['restart'];
  shutdownMs?: number;
  backoff?: Partial<BackoffOptions>;
  budget?: RestartBudget | null;
  stashLimit?: number;
}

/** Supervisor flags as users write them: all optional. */
export type SupervisorFlagsInput = Partial<SupervisorFlags>;

/** Validates a child's options once and applies {@link DEFAULTS}. */
export function normalizeChildOptions(input: ChildOptionsInput): ChildOptions {
  const raw = validate(childOptionsSchema, input, `child spec${describeId(input)}`);
  const d = DEFAULTS.child;
  const backoff: BackoffOptions = { ...d.backoff, ...stripUndefined(raw.backoff ?? {}) };
  if (backoff.maxMs < backoff.initialMs) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `invalid child spec${describeId(input)}: backoff.maxMs must be >= backoff.initialMs`, {
      details: { field: 'backoff.maxMs', problem: 'must be >= backoff.initialMs' },
    });
  }
  return {
    id: raw.id,
    restart: raw.restart ?? d.restart,
    shutdownMs: raw.shutdownMs ?? d.shutdownMs,
    backoff,
    budget: raw.budget ?? d.budget,
    stashLimit: raw.stashLimit ?? d.stashLimit,
  };
}

/** Validates a supervisor's flags once and applies {@link DEFAULTS}. */
export function normalizeSupervisorFlags(input: SupervisorFlagsInput = {}): SupervisorFlags {
  const raw = validate(supervisorFlagsSchema, input, 'supervisor flags');
  return { ...DEFAULTS.supervisor, ...stripUndefined({ strategy: raw.strategy, maxRestarts: raw.maxRestarts, windowMs: raw.windowMs }) };
}

function describeId(input: unknown): string {
  const id = (input as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? ` '${id}'` : '';
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
