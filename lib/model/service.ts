/** Services (desired state: a task template and a replica count) as users write them, validated once. */
import { z } from 'zod';
import { GoatError } from '../errors.js';
import { validate } from '../validate.js';
import { TASK_DEFAULTS } from './defaults.js';
import { normalizeTaskSpec, taskSpecSchema, type TaskSpec } from './spec.js';

/** Service names: DNS-label style, they appear in task ids and container names. */
export const SERVICE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A service as users write it (the body of `PUT /v1/services/:name`). */
export const serviceSpecSchema = z.strictObject({
  name: z.string().regex(SERVICE_NAME, 'lowercase letters, digits and -, at most 63'),
  replicas: z.number().int().min(0).max(10_000).optional(),
  task: taskSpecSchema,
});

/** A service as users write it. */
export type ServiceSpecInput = z.input<typeof serviceSpecSchema>;

/** A service, validated, defaults applied. */
export interface ServiceSpec {
  name: string;
  /** How many slots (`service/0` … `service/replicas-1`). @default 1 */
  replicas: number;
  task: TaskSpec;
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
  return { name: raw.name, replicas: raw.replicas ?? TASK_DEFAULTS.replicas, task };
}
