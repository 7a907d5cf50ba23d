/** Validation at the edge: one schema library (zod), one error shape naming the bad field. */
import type { z } from 'zod';
import { GoatError } from './errors.js';

/** Validates `input` against `schema`, or throws GOAT_ERR_INVALID_SPEC naming the first bad field. */
export function validate<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
  const message = issue?.message ?? 'invalid';
  throw new GoatError('GOAT_ERR_INVALID_SPEC', `invalid ${what}: ${field}: ${message}`, {
    details: { field, problem: message },
  });
}
