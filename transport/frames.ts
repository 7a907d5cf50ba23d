/**
 * Link frames (DESIGN.md "Link frames"): a versioned envelope
 * `{ v: 1, id, type, re?, body }` encoded with superjson, and one zod schema
 * per frame type. Every incoming frame is decoded by {@link decodeFrame},
 * which validates the envelope and the body and never throws: the
 * connection's peer is trusted no further than its token.
 */
import { nanoid } from 'nanoid';
import superjson from 'superjson';
import { z } from 'zod';
import { GoatError } from '../lib/errors.js';
import { normalizeTaskSpec, TASK_STATES, type TaskSpec, type TaskSpecInput } from '../lib/model/index.js';
import { LOG_BODY_SCHEMAS } from './logs-frames.js';

/** The envelope version this build speaks. */
export const FRAME_VERSION = 1;

const id = z.string().min(1).max(256);
const count = z.number().int().min(0);
const amount = z.number().finite().min(0);

/** A task as a worker reports it (in `hello` and `report`). */
const taskReportSchema = z.strictObject({
  taskId: id,
  service: id,
  slot: count,
  generation: count,
  state: z.enum(TASK_STATES),
  restarts: count,
  lastExit: z.strictObject({
    code: z.number().int().nullable(),
    signal: z.string().max(64).nullable(),
    oomKilled: z.boolean(),
    message: z.string().max(4096),
    finishedAt: amount,
  }).nullable().optional(),
  /** Why it is not running (a refusal, a spawn or start error, a spent budget); null once it runs. */
  error: z.strictObject({ code: z.string().max(128).optional(), message: z.string().max(4096) }).nullable().optional(),
  /** Its latest classified failure (app, health, resource, runtime). */
  failure: z.strictObject({ kind: z.enum(['app', 'health', 'resource', 'runtime']), message: z.string().max(4096), code: z.string().max(128).optional() }).nullable().optional(),
  /** Published ports while it runs (`host` as the engine chose it). */
  ports: z.array(z.strictObject({ host: z.number().int().min(0).max(65_535).optional(), container: z.number().int().min(0).max(65_535) })).max(1_000).optional(),
  /** Whether its current run passed its first health check (true for a task without one); absent from older workers. */
  healthy: z.boolean().optional(),
});

/**
 * A task spec on the wire: the model's own validation (`normalizeTaskSpec`,
 * i.e. `taskSpecSchema` plus its cross-field checks), so a decoded `assign`
 * carries a normalized {@link TaskSpec}. Accepts a spec as users write it or
 * an already normalized one (whose `health` may be `null`).
 */
const wireTaskSpec = z.custom<TaskSpecInput | TaskSpec>(() => true).transform((input, ctx): TaskSpec => {
  const raw = input !== null && typeof input === 'object' && 'health' in input && input.health === null
    ? Object.fromEntries(Object.entries(input).filter(([k]) => k !== 'health'))
    : input;
  try {
    return normalizeTaskSpec(raw, 'task spec');
  } catch (err) {
    const field = err instanceof GoatError && typeof err.details.field === 'string' ? err.details.field : '(root)';
    const problem = err instanceof GoatError && typeof err.details.problem === 'string' ? err.details.problem : String(err);
    ctx.addIssue({ code: 'custom', message: problem, path: field === '(root)' ? [] : field.split('.') });
    return z.NEVER;
  }
});

/** Any JSON value of at most 64 KiB (admin messages and their results). */
const jsonValue = z.unknown().refine((v) => {
  try {
    return (JSON.stringify(v) ?? '').length <= 65_536;
  } catch {
    return false;
  }
}, 'JSON of at most 64 KiB');

/** One node of a worker's supervision tree, flattened (`tree_snapshot`, `tree_delta`). */
const flatNodeSchema = z.strictObject({
  path: z.string().min(1).max(1024),
  /** The parent's path; null for the worker's root. */
  parent: z.string().max(1024).nullable(),
  /** Its position among its siblings. */
  index: count,
  id: z.string().min(1).max(256),
  kind: z.enum(['supervisor', 'worker']),
  status: z.enum(['starting', 'running', 'restarting', 'stopping', 'stopped', 'failed']),
  restarts: count,
  nextRestartAt: amount.nullable(),
  lastError: z.strictObject({ name: z.string().max(256), message: z.string().max(4096), code: z.string().max(128).optional() }).nullable(),
  strategy: z.enum(['one_for_one', 'one_for_all', 'rest_for_one']).optional(),
});

const errorBody = z.strictObject({ code: z.string().min(1).max(128), message: z.string().max(4096) });
const ackBody = z.strictObject({ cmdId: id, applied: z.boolean() });

/** The body schema of every frame type. */
export const BODY_SCHEMAS = {
  // worker → manager
  hello: z.strictObject({
    nodeId: id,
    name: z.string().min(1).max(256),
    runtime: z.enum(['docker', 'process']),
    capacity: z.strictObject({ cpus: amount, memoryMb: amount, diskFreeMb: amount.optional() }),
    labels: z.record(z.string().max(256), z.string().max(1024)),
    tasks: z.array(taskReportSchema).max(100_000),
    /** Why this node takes no tasks now (`auto` without Docker and without --allow-process); absent when it takes them. */
    unavailable: z.string().max(1024).optional(),
    /** The cluster this node belongs to (remembered from a welcome); absent before its first join. */
    clusterId: id.optional(),
    /** The specs of its tasks, by task id: sent after a refusal as of another cluster, so that an adopting manager can take them over. */
    specs: z.record(id, wireTaskSpec).optional(),
  }),
  heartbeat: z.strictObject({
    seq: count,
    usage: z.strictObject({ tasks: count, memoryMb: amount, cpuSeconds: amount }),
    /** As in `hello`: why this node takes no tasks now; absent when it takes them. */
    unavailable: z.string().max(1024).optional(),
  }),
  report: z.strictObject({
    tasks: z.array(taskReportSchema).max(100_000),
    /**
     * 1, 2, 3 … per report of a link: a task's report that arrives after a later one of the same link (frames
     * overtaken or repeated on the way) is not applied over it. Absent from older workers (applied as they come).
     */
    seq: count.optional(),
  }),
  /** The worker's whole supervision tree, flattened: on every link, after `welcome`. */
  tree_snapshot: z.strictObject({ seq: count, nodes: z.array(flatNodeSchema).max(50_000) }),
  /** What changed in it since the previous `tree_*` frame (rate-limited by the worker). */
  tree_delta: z.strictObject({ seq: count, upserts: z.array(flatNodeSchema).max(50_000), removes: z.array(z.string().max(1024)).max(50_000) }),
  /** The answer to an `admin` frame (`re`: its id). */
  admin_result: z.strictObject({ ok: z.boolean(), result: jsonValue.optional(), error: z.strictObject({ code: z.string().min(1).max(128), message: z.string().max(4096) }).optional() }),
  // manager → worker
  // The manager's failure-detector configuration (lib/model DetectorConfig): the worker heartbeats every
  // `heartbeatMs` and closes a link silent for `linkSilenceMs`. Optional for older managers.
  welcome: z.strictObject({
    nodeId: id, heartbeatMs: z.number().int().positive(), epoch: count,
    suspectAfterMs: z.number().int().positive().optional(),
    downAfterMs: z.number().int().positive().optional(),
    linkSilenceMs: z.number().int().positive().optional(),
    /** The manager's cluster id: the worker remembers it and says it in every hello. Optional for older managers. */
    clusterId: id.optional(),
  }),
  heartbeat_ack: z.strictObject({ seq: count }),
  assign: z.strictObject({
    cmdId: id,
    task: z.strictObject({ taskId: id, service: id, slot: count, generation: count, spec: wireTaskSpec }),
    /** The sending leader's epoch (HA); a worker refuses one older than the highest it stored. */
    epoch: count.optional(),
  }),
  stop: z.strictObject({ cmdId: id, taskId: id, generation: count, epoch: count.optional() }),
  /** An admin `send`/`ask` routed to an actor of the worker's tree (the worker's own path: `/cluster/worker/...`). */
  admin: z.strictObject({ op: z.enum(['send', 'ask']), path: z.string().startsWith('/').max(1024), message: jsonValue, timeoutMs: z.number().int().min(1).max(60_000) }),
  // follower manager → worker (HA, lib/ha): go to the leader, or retry later
  redirect: z.strictObject({ url: z.string().min(1).max(2048), leaderId: id, epoch: count }),
  no_leader: z.strictObject({ retryAfterMs: z.number().int().min(0).max(60_000) }),
  ...LOG_BODY_SCHEMAS,
  // both ways
  ack: ackBody,
  error: errorBody,
} as const;

/** Every frame type. */
export type FrameType = keyof typeof BODY_SCHEMAS;
/** A frame body as decoded (validated; an `assign` carries a normalized spec). */
export type FrameBody<T extends FrameType> = z.output<(typeof BODY_SCHEMAS)[T]>;
/** A frame body as given to a sender. */
export type FrameBodyInput<T extends FrameType> = z.input<(typeof BODY_SCHEMAS)[T]>;

/** Which frame types each side accepts. */
export const FRAME_TYPES = {
  /** Frames a manager accepts from a worker. */
  toManager: ['hello', 'heartbeat', 'report', 'tree_snapshot', 'tree_delta', 'admin_result', 'ack', 'error', 'logs_data', 'logs_end'],
  /** Frames a worker accepts from a manager. */
  toWorker: ['welcome', 'heartbeat_ack', 'assign', 'stop', 'admin', 'redirect', 'no_leader', 'ack', 'error', 'logs_open', 'logs_credit', 'logs_cancel'],
} as const satisfies Record<string, readonly FrameType[]>;

/** A direction of travel: who receives. */
export type Direction = keyof typeof FRAME_TYPES;
/** The frame types a direction carries. */
export type TypesOf<D extends Direction> = (typeof FRAME_TYPES)[D][number];

/** A decoded frame of type `T`. `re` is the `id` of the frame it answers. */
export type Frame<T extends FrameType = FrameType> = {
  [K in T]: { v: typeof FRAME_VERSION; id: string; type: K; re?: string; body: FrameBody<K> };
}[T];

/** A task as a worker reports it. */
export type TaskReport = z.output<typeof taskReportSchema>;
/** The body of `hello`. */
export type HelloBody = FrameBody<'hello'>;
/** The body of `heartbeat`. */
export type HeartbeatBody = FrameBody<'heartbeat'>;
/** The body of `report`. */
export type ReportBody = FrameBody<'report'>;
/** The body of `welcome`. */
export type WelcomeBody = FrameBody<'welcome'>;
/** The body of `assign`, as decoded (normalized spec). */
export type AssignBody = FrameBody<'assign'>;
/** The body of `stop`. */
export type StopBody = FrameBody<'stop'>;
/** The body of `redirect` (a follower names the leader). */
export type RedirectBody = FrameBody<'redirect'>;
/** The body of `no_leader` (a follower knows no leader yet). */
export type NoLeaderBody = FrameBody<'no_leader'>;
/** A node of a worker's tree as `tree_snapshot` and `tree_delta` carry it. */
export type FlatNode = z.output<typeof flatNodeSchema>;
/** The body of `tree_snapshot`. */
export type TreeSnapshotBody = FrameBody<'tree_snapshot'>;
/** The body of `tree_delta`. */
export type TreeDeltaBody = FrameBody<'tree_delta'>;
/** The body of `admin`. */
export type AdminBody = FrameBody<'admin'>;
/** The body of `admin_result`. */
export type AdminResultBody = FrameBody<'admin_result'>;
/** The body of `ack`. */
export type AckBody = FrameBody<'ack'>;
/** The body of `error`. */
export type ErrorBody = FrameBody<'error'>;

const envelopeSchema = z.strictObject({
  v: z.number(),
  id,
  type: z.string().min(1).max(64),
  re: id.optional(),
  body: z.unknown(),
});

/** A fresh frame or command id (a nanoid: unique across processes and restarts, as command ids must be). */
export function newId(): string {
  return nanoid(16);
}

/**
 * Encodes a frame. The body is validated first: sending a frame that its
 * receiver would reject is a bug of the caller, reported as a thrown
 * GOAT_ERR_BAD_FRAME.
 */
export function encodeFrame<T extends FrameType>(type: T, body: FrameBodyInput<T>, options: { id?: string; re?: string } = {}): string {
  if (!PLAIN_HOT.has(type)) {
    const result = BODY_SCHEMAS[type].safeParse(body);
    if (!result.success) throw badFrame(`${type} body`, result.error.issues, { type });
  }
  const envelope = { v: FRAME_VERSION, id: options.id ?? newId(), type, ...(options.re === undefined ? {} : { re: options.re }), body };
  // Plain JSON bodies in superjson's own shape (`{ json }`, no meta): what superjson would write, ~20× faster.
  return PLAIN_HOT.has(type) || PLAIN.has(type) ? JSON.stringify({ json: envelope }) : superjson.stringify(envelope);
}

/**
 * Frame types on hot paths: their bodies are plain JSON, built from typed
 * data by the sender, and validated by the receiver as every frame is, so the
 * sender skips its own check and superjson's walk. `logs_data`: log streams
 * (strings and numbers only). `assign`: a task as stored (its spec normalized
 * when it was written, read back from JSON) — re-normalizing it per command
 * was the largest cost of a scale-up burst (bench/ha.ts).
 */
const PLAIN_HOT: ReadonlySet<FrameType> = new Set<FrameType>(['logs_data', 'assign']);

/**
 * Frame types whose bodies are plain JSON (numbers, strings, booleans; no
 * Date, no undefined the receiver needs): checked, then written without
 * superjson's walk. A heartbeat and its ack every second per worker were the
 * sender's largest cost (the simulation's profile).
 */
const PLAIN: ReadonlySet<FrameType> = new Set<FrameType>(['heartbeat', 'heartbeat_ack', 'ack', 'stop']);

/**
 * Decodes and validates one frame. Returns the typed frame, or a GoatError
 * GOAT_ERR_BAD_FRAME naming what is wrong (`details.field`, `details.problem`,
 * and `details.re`: the bad frame's id when it could be read). Never throws.
 * With `direction`, a type the receiver does not accept is a bad frame too.
 */
export function decodeFrame(text: string): Frame | GoatError;
export function decodeFrame<D extends Direction>(text: string, direction: D): Frame<TypesOf<D>> | GoatError;
export function decodeFrame(text: string, direction?: Direction): Frame | GoatError {
  let parsed: unknown;
  try {
    // A plain JSON body comes as `{ "json": … }` with no `meta` (see encodeFrame): superjson would only copy it.
    const raw = JSON.parse(text) as { json?: unknown; meta?: unknown } | null;
    parsed = raw !== null && typeof raw === 'object' && raw.meta === undefined ? raw.json : superjson.deserialize(raw as never);
  } catch (err) {
    return new GoatError('GOAT_ERR_BAD_FRAME', `bad frame: not superjson: ${err instanceof Error ? err.message : String(err)}`, {
      details: { field: '(root)', problem: 'not superjson' },
    });
  }
  const env = envelopeSchema.safeParse(parsed);
  if (!env.success) return badFrame('envelope', env.error.issues, reId(parsed));
  const { v, type, id: frameId, re, body } = env.data;
  if (v !== FRAME_VERSION) {
    return new GoatError('GOAT_ERR_BAD_FRAME', `bad frame: v: unsupported version ${v} (this side speaks ${FRAME_VERSION})`, {
      details: { field: 'v', problem: 'unsupported version', re: frameId },
    });
  }
  const accepted: readonly string[] = direction ? FRAME_TYPES[direction] : Object.keys(BODY_SCHEMAS);
  if (!accepted.includes(type)) {
    return new GoatError('GOAT_ERR_BAD_FRAME', `bad frame: type: unknown frame type "${type}"`, {
      details: { field: 'type', problem: 'unknown frame type', type, re: frameId },
    });
  }
  const schema: z.ZodType<unknown> = BODY_SCHEMAS[type as FrameType];
  const result = schema.safeParse(body);
  if (!result.success) return badFrame(`${type} body`, result.error.issues, { type, re: frameId }, 'body');
  return { v: FRAME_VERSION, id: frameId, type, ...(re === undefined ? {} : { re }), body: result.data } as Frame;
}

/** The frame's id, when the envelope at least has a usable one (so an error frame can answer it). */
function reId(parsed: unknown): Record<string, unknown> {
  if (parsed === null || typeof parsed !== 'object' || !('id' in parsed)) return {};
  return id.safeParse(parsed.id).success ? { re: parsed.id } : {};
}

function badFrame(what: string, issues: z.core.$ZodIssue[], details: Record<string, unknown>, root?: string): GoatError {
  const issue = issues[0];
  const path = [...(root ? [root] : []), ...(issue?.path ?? []).map(String)];
  const field = path.length > 0 ? path.join('.') : '(root)';
  const problem = issue?.message ?? 'invalid';
  return new GoatError('GOAT_ERR_BAD_FRAME', `bad frame: ${what}: ${field}: ${problem}`, { details: { ...details, field, problem } });
}
