/**
 * Which requests {@link place} may treat as one group: same service, and
 * specs that are the same object or equal as JSON data (specs read back from
 * the store are distinct objects with equal contents).
 */
import type { PlacementRequest } from './types.js';

/** True when `a` and `b` are the same service with equal specs. */
export function sameGroup(a: PlacementRequest, b: PlacementRequest): boolean {
  return a.service === b.service && equalData(a.spec, b.spec);
}

/** Deep equality of JSON-like data (plain objects, arrays, primitives). */
export function equalData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equalData(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!equalData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
