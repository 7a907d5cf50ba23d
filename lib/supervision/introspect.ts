/**
 * Looking inside a running tree, as an Erlang shell does: `info` (like
 * `process_info` plus the supervisor's view: status, restarts, uptime,
 * mailbox length), `state` (a copy, like `sys:get_state`), `kill` (crash it so
 * its supervisor acts, like `exit(Pid, kill)`), and `accepts` (would this
 * actor understand a message?). Every path of a tree answers, supervisors too.
 */
import type { ChildStatus } from './snapshot.js';
import type { ErrorInfo, Strategy } from './types.js';

/** What `info(path)` shows. */
export interface ActorInfo {
  path: string;
  kind: 'supervisor' | 'worker';
  status: ChildStatus;
  /** Restarts inside its budget window. */
  restarts: number;
  /** When this incarnation started (the tree's clock, ms), or null when not running. */
  startedAt: number | null;
  /** How long this incarnation has run, ms, or null. */
  uptimeMs: number | null;
  /** When a scheduled restart fires, or null. */
  nextRestartAt: number | null;
  lastError: ErrorInfo | null;
  /** Messages waiting in its mailbox (actors), or null. */
  mailbox: number | null;
  /** Messages it handled in this incarnation (actors), or null. */
  handled: number | null;
  /** Supervisors: their strategy and children's ids. */
  strategy?: Strategy;
  children?: string[];
}

/** What a running child can say about itself beyond what its supervisor knows (the nact bridge fills it in). */
export interface HandleIntrospection {
  /** Mailbox length and messages handled. */
  counters?(): { mailbox: number; handled: number };
  /** A copy of its state, answered in mailbox order. */
  state?(timeoutMs: number): Promise<unknown>;
  /** Crashes it with `error` through its normal crash path (its `terminate` runs). */
  crash?(error: ErrorInfo): void;
  /** Null when it would understand `message`, else why not. */
  accepts?(message: unknown): string | null;
}

/** The introspection messages every path answers on the admin channel. */
export const INTROSPECTION_TYPES = ['$info', '$state', '$kill'] as const;

/** One of {@link INTROSPECTION_TYPES}. */
export type IntrospectionType = (typeof INTROSPECTION_TYPES)[number];

/** True for `$info`, `$state`, `$kill`. */
export function isIntrospection(type: unknown): type is IntrospectionType {
  return typeof type === 'string' && (INTROSPECTION_TYPES as readonly string[]).includes(type);
}

/**
 * A JSON-safe copy of any value, bounded: functions become `'[Function name]'`,
 * Maps and Sets plain objects and arrays, cycles `'[Circular]'`, deeper than
 * `depth` `'[…]'`, long arrays and strings are cut. What `state(path)` returns.
 */
export function dataCopy(value: unknown, depth = 6, seen = new WeakSet<object>()): unknown {
  switch (typeof value) {
    case 'string':
      return value.length > 4096 ? `${value.slice(0, 4096)}…` : value;
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
      return null;
    case 'function':
      return `[Function ${value.name || 'anonymous'}]`;
    case 'symbol':
      return value.toString();
    case 'object':
      break;
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) return '[Circular]';
  if (depth <= 0) return '[…]';
  seen.add(obj);
  try {
    if (obj instanceof Date) return obj.toISOString();
    if (obj instanceof Error) return { name: obj.name, message: obj.message };
    if (obj instanceof Map) return Object.fromEntries([...obj.entries()].slice(0, 200).map(([k, v]) => [String(k), dataCopy(v, depth - 1, seen)]));
    if (obj instanceof Set) return [...obj].slice(0, 200).map((v) => dataCopy(v, depth - 1, seen));
    if (Array.isArray(obj)) {
      const out = obj.slice(0, 200).map((v) => dataCopy(v, depth - 1, seen));
      if (obj.length > 200) out.push(`… ${obj.length - 200} more`);
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj).slice(0, 200)) out[k] = dataCopy(v, depth - 1, seen);
    return out;
  } finally {
    seen.delete(obj);
  }
}
