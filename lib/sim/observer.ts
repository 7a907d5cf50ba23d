/**
 * The invariant observer: it sees every node's state (the manager's store,
 * every machine's instances, every frame delivered) and checks the safety
 * invariants after every event, the liveness ones once faults have healed,
 * and counts which faults and recovery paths a run exercised.
 */
import type { ClusterEvent } from '../model/index.js';
import type { SimInstance } from './runtime.js';

/** A broken invariant. */
export interface Violation {
  /** Which invariant, e.g. `one-copy-per-slot`. */
  invariant: string;
  /** Simulated time (ms since the start). */
  at: number;
  detail: string;
}

/** What the checks compare of a service: its replica count and its workload version. */
export interface ServiceWrite {
  replicas: number;
  version: number;
}

/** Recovery paths a run can take (coverage). */
export const RECOVERY_PATHS = ['replacement', 'selfFence', 'adoption', 'escalation', 'backoff'] as const;
/** One of {@link RECOVERY_PATHS}. */
export type RecoveryPath = (typeof RECOVERY_PATHS)[number];

/** The invariant observer of one run. */
export class Observer {
  readonly violations: Violation[] = [];
  readonly trace: string[] = [];
  readonly paths = new Map<RecoveryPath, number>();
  /** Per slot (`service/slot`): the highest generation the store has shown. */
  readonly #maxGen = new Map<string, number>();
  /**
   * Per node: when the manager last heard a hello or heartbeat (manager
   * clock), this incarnation, and the time before that: a frame heard in the
   * same millisecond as a verdict may still wait in the node actor's mailbox
   * behind the check that gave it.
   */
  readonly #heard = new Map<string, { last: number; before: number | undefined }>();
  /** Per worker: commands delivered from an older epoch than it had seen (frame id → what), until its next welcome. */
  readonly #stale = new Map<string, Map<string, string>>();
  /** Stop commands delivered, `node taskId@gen`. */
  readonly #stopsDelivered = new Set<string>();
  /** Instances a worker fenced, `node taskId@gen`. */
  readonly #fenced = new Set<string>();
  /** The manager incarnation's start (manager clock) and the nodes it knew then (in their grace until they link). */
  #managerStart = 0;
  readonly #inGrace = new Set<string>();
  /** Per service: what the store had when the last write was acknowledged (null: deleted). */
  readonly acked = new Map<string, ServiceWrite | null>();
  /**
   * Per service: writes sent after the last acknowledged one that got no
   * answer (their manager died): each may or may not have been committed.
   * A scale's version is whatever the service had (undefined).
   */
  readonly inDoubt = new Map<string, (Partial<ServiceWrite> & { replicas: number } | null)[]>();
  /** New generations created per slot, with when (for hot loops). */
  readonly creations: { slot: string; at: number }[] = [];
  /** Set when an instance started or stopped: the copies check has something new to look at. */
  dirty = true;
  /** Trace lines are kept only when asked (the hash is always computed). */
  #hash = 0x811c9dc5;

  constructor(
    readonly downAfterMs: number,
    readonly graceMs: number,
    readonly now: () => number,
    readonly keepTrace: boolean,
  ) {}

  /** A line in the trace (hashed always; kept with --trace). */
  log(line: string): void {
    const text = `${this.now()} ${line}`;
    for (let i = 0; i < text.length; i++) this.#hash = Math.imul(this.#hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
    if (this.keepTrace) this.trace.push(text);
  }

  /** Folds one scheduler event (its time, node, incarnation and step number) into the hash, without a trace line. */
  fold(at: number, node: string, inc: number, step: number): void {
    let h = this.#hash;
    for (let i = 0; i < node.length; i++) h = Math.imul(h ^ node.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ (at & 0xffffffff), 0x01000193);
    h = Math.imul(h ^ Math.floor(at / 0x100000000), 0x01000193);
    h = Math.imul(h ^ (inc + 1), 0x01000193);
    this.#hash = Math.imul(h ^ step, 0x01000193) >>> 0;
  }

  /** The trace's hash (FNV-1a, as hex). */
  get hash(): string {
    return this.#hash.toString(16).padStart(8, '0');
  }

  fail(invariant: string, detail: string): void {
    if (this.violations.some((v) => v.invariant === invariant && v.detail === detail)) return;
    this.violations.push({ invariant, at: this.now(), detail });
    this.log(`VIOLATION ${invariant}: ${detail}`);
  }

  path(p: RecoveryPath): void {
    this.paths.set(p, (this.paths.get(p) ?? 0) + 1);
  }

  /** A manager process started at `clock` (its clock), knowing `nodes` (not down) from its store. */
  managerStarted(clock: number, nodes: string[]): void {
    this.#managerStart = clock;
    this.#heard.clear();
    this.#inGrace.clear();
    for (const n of nodes) this.#inGrace.add(n);
  }

  /**
   * A frame reached a live socket; `minEpoch` is the highest leader epoch
   * the receiving worker has stored. A command (assign, stop) of an older
   * epoch must be refused: its ack is a violation.
   */
  delivered(from: string, to: string, text: string, minEpoch: number): void {
    if (from === 'manager') {
      if (!text.includes('"type":"stop"') && !text.includes('"type":"assign"') && !text.includes('"type":"welcome"')) return;
      const f = envelopeOf(text);
      if (!f) return;
      if (f.type === 'welcome') {
        this.#stale.delete(to); // a new session: frame ids start again
        return;
      }
      if (f.type !== 'stop' && f.type !== 'assign') return;
      const epoch = f.body.epoch ?? 0;
      const taskId = f.type === 'stop' ? f.body.taskId : f.body.task?.taskId;
      const generation = f.type === 'stop' ? f.body.generation : f.body.task?.generation;
      if (epoch < minEpoch) {
        const stale = this.#stale.get(to) ?? new Map<string, string>();
        stale.set(f.id, `${f.type} ${f.body.cmdId} of epoch ${epoch} (${to} has seen ${minEpoch})`);
        this.#stale.set(to, stale);
        this.log(`stale command to ${to}: ${f.type} ${f.body.cmdId} of epoch ${epoch} < ${minEpoch}`);
        return;
      }
      if (f.type === 'stop') this.#stopsDelivered.add(`${to} ${taskId}@${generation}`);
      return;
    }
    if (to !== 'manager' || !text.includes('"type":"ack"')) return;
    const stale = this.#stale.get(from);
    if (!stale) return;
    const f = envelopeOf(text);
    if (!f || f.type !== 'ack' || f.re === undefined) return;
    const what = stale.get(f.re);
    if (what !== undefined) this.fail('no-stale-command', `${from} acted on ${what}`);
  }

  /** The manager's core heard from node `id` (its hello, a heartbeat) at `managerClock`; `hello` ends its recovery grace. */
  heard(id: string, managerClock: number, hello: boolean): void {
    const h = this.#heard.get(id);
    if (!h) this.#heard.set(id, { last: managerClock, before: undefined });
    else if (managerClock > h.last) this.#heard.set(id, { last: managerClock, before: h.last });
    if (hello) this.#inGrace.delete(id);
  }

  /** An event of the manager's log (committed). */
  event(e: ClusterEvent, managerClock: number): void {
    if (e.type === 'node.status') {
      const status = (e.data as { status?: string }).status;
      this.log(`node ${e.subject} ${status}`);
      if (status === 'down') this.#checkDown(e.subject, managerClock);
    } else if (e.type === 'task.state') {
      const d = e.data as { state?: string; generation?: number; slot?: number; service?: string };
      if (d.state === 'pending' && d.service !== undefined && d.generation !== undefined) {
        const slot = `${d.service}/${d.slot}`;
        this.creations.push({ slot, at: this.now() });
        const before = this.#maxGen.get(slot) ?? 0;
        if (d.generation <= before) this.fail('generations-grow', `slot ${slot}: a new task has generation ${d.generation}, not above ${before}`);
        this.#maxGen.set(slot, Math.max(before, d.generation));
      }
      if (d.state === 'lost') this.path('replacement');
    }
  }

  #checkDown(node: string, at: number): void {
    const h = this.#heard.get(node);
    const since = (h && h.last < at ? h.last : h?.before) ?? this.#managerStart;
    if (at - since < this.downAfterMs) {
      this.fail('down-after-timeout', `node ${node} declared down after ${at - since} ms of silence (down timeout ${this.downAfterMs} ms)`);
    }
    if (this.#inGrace.has(node) && at - this.#managerStart < this.graceMs) {
      this.fail('recovery-grace', `node ${node} declared down ${at - this.#managerStart} ms after the manager started (grace ${this.graceMs} ms)`);
    }
  }

  /** An instance started on `node`. */
  started(node: string, inst: SimInstance, adopted: boolean): void {
    const key = `${node} ${inst.task.taskId}@${inst.task.generation}`;
    this.dirty = true;
    this.log(`start ${key}${adopted ? ' (adopted)' : ''}`);
    if (adopted) this.path('adoption');
    if (!adopted && this.#fenced.has(key)) this.fail('fenced-stays-stopped', `${key} started again after its worker fenced it`);
  }

  /** An instance stopped on `node`; `fenceOk` when its worker may fence it now (cut off, `disconnect.stopAfterMs` set). */
  stopped(node: string, inst: SimInstance, how: 'stop' | 'crash' | 'machine', fenceOk: boolean): void {
    const key = `${node} ${inst.task.taskId}@${inst.task.generation}`;
    this.log(`exit ${key} (${how})`);
    if (how !== 'stop' || this.#stopsDelivered.has(key)) return;
    if (fenceOk) {
      this.#fenced.add(key);
      this.path('selfFence');
      return;
    }
    this.fail('no-stale-command', `${key} was stopped with no stop command for its generation (a command for another generation acted on it)`);
  }

  /**
   * The safety invariant over every machine now: at most one running copy
   * per slot and generation. (Generations are checked as tasks are created.)
   */
  check(running: () => Map<string, SimInstance[]>): void {
    if (!this.dirty) return;
    this.dirty = false;
    const copies = new Map<string, string[]>();
    for (const [node, list] of running()) {
      for (const i of list) {
        const k = `${i.task.service}/${i.task.slot}@${i.task.generation}`;
        const at = copies.get(k) ?? [];
        at.push(node);
        copies.set(k, at);
      }
    }
    for (const [k, nodes] of copies) {
      if (nodes.length > 1) this.fail('one-copy-per-slot', `${k} runs on ${nodes.join(', ')}`);
    }
  }
}

/** What the observer reads of a frame (the envelope of transport/frames.ts, superjson's `json` part): no validation, the receiver does that. */
interface Envelope {
  id: string;
  type: string;
  re?: string;
  body: { cmdId?: string; epoch?: number; taskId?: string; generation?: number; task?: { taskId?: string; generation?: number } };
}

function envelopeOf(text: string): Envelope | null {
  try {
    const e = (JSON.parse(text) as { json?: Envelope }).json;
    return e && typeof e === 'object' && typeof e.type === 'string' && e.body && typeof e.body === 'object' ? e : null;
  } catch {
    return null;
  }
}
