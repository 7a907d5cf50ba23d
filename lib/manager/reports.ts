/**
 * What a worker says about its tasks, turned into store writes: the pure
 * decisions behind its `hello` (everything it runs, on every (re)connect)
 * and its `report` frames (what changed). The one small place where a hello
 * is interpreted: cluster identity checks and log routing hook in here.
 */
import { canReach, canTransition, classifyExit, isRolling, isTerminal, type ServiceRecord, type TaskRecord, type TaskState } from '../model/index.js';
import { applyReportedFault } from '../model/report.js';
import type { PendingEvent } from './journal.js';

/** A task as a worker reports it (hello and report frames). */
export interface ReportedTask {
  taskId: string;
  service: string;
  slot: number;
  generation: number;
  state: TaskState;
  restarts: number;
  lastExit?: { code: number | null; signal: string | null; oomKilled: boolean; message: string; finishedAt: number } | null | undefined;
  /** Why it failed, when it did (the worker's classification). */
  failure?: { kind: 'app' | 'health' | 'resource' | 'runtime'; message: string; code?: string | undefined } | null | undefined;
  /** Why it is not running (a refusal, a spawn or start error, a spent budget); null once it runs. */
  error?: { code?: string | undefined; message: string } | null | undefined;
  /** Published ports while it runs (`host` chosen by the engine when the spec left it open). */
  ports?: { host?: number | undefined; container: number }[] | undefined;
  /** Whether its current run passed its first health check (true for a task without one); absent from older workers (taken as true). */
  healthy?: boolean | undefined;
}

/** What applying reports decided. */
export interface ReportOutcome {
  /** Task records to write. */
  puts: TaskRecord[];
  /** Events to record with them. */
  events: PendingEvent[];
  /** Copies the node runs that the manager does not want (stale generations, unknown or replaced tasks): stop them. */
  stops: { id: string; generation: number }[];
  /** Services whose tasks reached a terminal state: their controllers must look again. */
  services: string[];
}

/**
 * Whether a service's controller looks again when one of its tasks starts
 * running: a service rolling out (its monitor starts) or degraded (it may
 * run again, issue 10). Pure.
 */
export function watchesRunning(s: Pick<ServiceRecord, 'update' | 'status'> | undefined): boolean {
  return !!s && (isRolling(s.update) || s.status?.state === 'degraded');
}

/**
 * Applies reported task states (`get` reads the stored task): moves what the
 * state machine allows, keeps restarts and the last exit, and asks to stop
 * every copy this node should not run. `watches` says which services want a
 * look when one of their tasks starts running ({@link watchesRunning}). Pure.
 */
export function applyReports(nodeId: string, reports: readonly ReportedTask[], get: (id: string) => TaskRecord | undefined, now: number, watches: (service: string) => boolean = () => false): ReportOutcome {
  const out: ReportOutcome = { puts: [], events: [], stops: [], services: [] };
  const written = new Map<string, TaskRecord>();
  const read = (id: string): TaskRecord | undefined => written.get(id) ?? get(id);
  for (const r of reports) {
    const t = read(r.taskId);
    // A task the manager gave up on (lost while its node was down: its slot was re-placed) is not wanted back.
    const wanted = t && t.generation === r.generation && t.node === nodeId && t.desired === 'running' && !isTerminal(t.state);
    if (!wanted) {
      // A copy the manager no longer wants here (replaced while cut off, or unknown): stop it, never the current one.
      if (!isTerminal(r.state)) out.stops.push({ id: r.taskId, generation: r.generation });
      if (t && t.generation === r.generation && t.node === nodeId && t.desired === 'stopped' && isTerminal(r.state) && canTransition(t.state, r.state)) {
        const next = { ...t, state: r.state, updatedAt: now };
        written.set(t.id, next);
      }
      continue;
    }
    const lastExit = r.lastExit ? { code: r.lastExit.code, signal: r.lastExit.signal, oomKilled: r.lastExit.oomKilled, message: r.lastExit.message, finishedAt: r.lastExit.finishedAt } : t.lastExit;
    // Where the worker says the task is now, even when the moves between went unreported (`exited` → `running`: it
    // restarted while its link was down; found by the simulation, CI seeds 326 and 623, a task left `exited` for good).
    const moved = r.state !== t.state && canReach(t.state, r.state);
    const failure = r.failure ? { kind: r.failure.kind, message: r.failure.message, ...(r.failure.code ? { code: r.failure.code } : {}) }
      : r.lastExit ? (classifyExit(r.lastExit) ?? t.failure) : t.failure;
    // The worker's own error and failure (a refusal, a spawn or start error), so `ps` says why (issue 11).
    const fault = applyReportedFault({ ...t, failure }, { ...(r.error === undefined ? {} : { error: r.error === null ? null : { ...(r.error.code ? { code: r.error.code } : {}), message: r.error.message } }), ...(r.failure === undefined ? {} : { failure: r.failure === null ? null : { kind: r.failure.kind, message: r.failure.message, ...(r.failure.code ? { code: r.failure.code } : {}) } }) });
    const ports = r.ports ?? t.ports;
    const healthySince = healthySinceOf(t, r, moved, now);
    if (!moved && r.restarts === t.restarts && lastExit === t.lastExit && !fault.changed && JSON.stringify(ports) === JSON.stringify(t.ports) && healthySince === t.healthySince) continue;
    const next: TaskRecord = {
      ...t, state: moved ? r.state : t.state, restarts: r.restarts, lastExit, ...fault.fields, updatedAt: now,
      ...(ports ? { ports } : {}),
      ...(moved && r.state === 'running' ? { runningSince: now } : {}),
      // Every failed task says why: what the worker said, else the failure, else the last exit.
      ...(moved && r.state === 'failed' && !r.error && fault.fields.failure ? { error: { ...(fault.fields.failure.code ? { code: fault.fields.failure.code } : {}), message: fault.fields.failure.message } } : {}),
    };
    if (healthySince === undefined) delete next.healthySince;
    else next.healthySince = healthySince;
    if (moved && r.state === 'failed' && !fault.fields.failure && !next.error) next.error = { message: lastExit?.message ?? 'failed on its node' };
    written.set(t.id, next);
    if (moved) out.events.push({ type: 'task.state', subject: t.id, data: { state: r.state, generation: t.generation, node: nodeId, restarts: r.restarts, ...(r.state === 'failed' || r.state === 'exited' ? { failure: next.failure, error: next.error } : {}) } });
    const look = isTerminal(next.state) || ((moved || healthySince !== t.healthySince) && next.state === 'running' && watches(t.service));
    if (look && !out.services.includes(t.service)) out.services.push(t.service);
  }
  out.puts = [...written.values()];
  return out;
}

/**
 * When the task's current run became healthy: when it started running, for
 * a task without a health check (and from an older worker, which does not
 * say); when its node first said so, for a task with one. A new run starts
 * unhealthy again.
 */
function healthySinceOf(t: TaskRecord, r: ReportedTask, moved: boolean, now: number): number | undefined {
  if (moved && r.state === 'running') return r.healthy === false ? undefined : now;
  if (t.state === 'running' && r.state === 'running' && r.healthy === true && t.healthySince === undefined) return now;
  return t.healthySince;
}

/** What a hello decided, on top of its reports. */
export interface HelloOutcome extends ReportOutcome {
  /** Tasks assigned here that the worker does not report and may never have received: send their assign again (seed 002). */
  resend: TaskRecord[];
}

/**
 * A worker's hello: everything it runs. Its reports are applied; a task
 * assigned here and not reported is sent again when the worker may simply
 * not have received it yet (`assigned`), and is `lost` (its slot re-placed)
 * when the worker had already reported it and no longer does: its state
 * file was reset or lost, and what it ran is gone. Pure.
 */
export function applyHello(nodeId: string, nodeName: string, reports: readonly ReportedTask[], assigned: readonly TaskRecord[], get: (id: string) => TaskRecord | undefined, now: number, watches: (service: string) => boolean = () => false): HelloOutcome {
  const out = applyReports(nodeId, reports, get, now, watches);
  const reported = new Set(reports.map((t) => `${t.taskId}@${t.generation}`));
  const resend: TaskRecord[] = [];
  const lost: TaskRecord[] = [];
  for (const t of assigned) {
    if (t.node !== nodeId || t.desired !== 'running' || isTerminal(t.state) || reported.has(`${t.id}@${t.generation}`)) continue;
    if (t.state === 'assigned' || t.state === 'pending') resend.push(t);
    else if (canTransition(t.state, 'lost')) {
      lost.push({ ...t, state: 'lost', desired: 'stopped', error: { code: 'GOAT_ERR_NO_SUCH_TASK', message: `node ${nodeName} no longer reports this task` }, updatedAt: now });
    }
  }
  for (const t of lost) {
    out.events.push({ type: 'task.state', subject: t.id, data: { state: 'lost', generation: t.generation, node: nodeId, reason: 'not reported by its node' } });
    if (!out.services.includes(t.service)) out.services.push(t.service);
  }
  return { ...out, puts: [...out.puts, ...lost], resend };
}
