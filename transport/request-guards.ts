/**
 * Checks on the parts of an HTTP request the router does not parse itself:
 * path parameters (percent-encoding) and the `Idempotency-Key` header.
 * Each bad value is a 400 naming what is wrong, never a 500.
 */
import { GoatError } from '../lib/errors.js';

/** Longest accepted `Idempotency-Key`, in characters. */
export const MAX_IDEMPOTENCY_KEY = 255;

/** Decodes one path segment; a malformed percent-encoding (`%zz`, `%E0%A4`) is a 400. */
export function decodePathParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new GoatError('GOAT_ERR_BAD_REQUEST', 'the path has a malformed percent-encoding', { details: { field: 'path' } });
  }
}

/**
 * Validates an `Idempotency-Key`: printable ASCII, 1 to {@link MAX_IDEMPOTENCY_KEY}
 * characters. Returns undefined when there is none.
 */
export function checkIdempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined || key === '') return undefined;
  if (key.length > MAX_IDEMPOTENCY_KEY || !/^[\x21-\x7e]+$/.test(key)) {
    throw new GoatError('GOAT_ERR_BAD_REQUEST', `invalid header: Idempotency-Key: 1 to ${MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces`, {
      details: { field: 'Idempotency-Key', maxLength: MAX_IDEMPOTENCY_KEY },
    });
  }
  return key;
}
