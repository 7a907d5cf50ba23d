/**
 * A simulated container engine per machine ({@link SimMachine}), and the
 * {@link Runtime} (lib/runtime/types.ts) each worker process sees of it
 * ({@link SimMachine.runtimeFor}). Task instances belong to the machine:
 * they keep running when their worker process dies and are adopted by the
 * next one. Starts take a while, some are refused (a resource) or fail (the
 * program), running ones may crash, and the engine itself can go away.
 *
 * Every answer to a worker is an event in that worker's process context, so
 * a killed worker never hears back.
 */
import { GoatError } from '../errors.js';
import type { Capacity, ExitInfo, PrepareResult, Runtime, RuntimeHealth, RuntimeTask, RunningTask, TaskStatus } from '../runtime/index.js';
import type { Prng } from './prng.js';
import type { SimCtx, SimScheduler } from './scheduler.js';

/** How the engine misbehaves; the seed picks it. */
export interface RuntimeProfile {
  /** Start delay range, ms. */
  startMs: [number, number];
  /** Chance a start is refused for lack of a resource (placed elsewhere). */
  refuse: number;
  /** Chance a start fails (the program cannot start). */
  failStart: number;
  /** Chance a started instance crashes later (exit code 1) within `crashWithinMs`. */
  crash: number;
  crashWithinMs: number;
}

/** One task instance on a machine. */
export interface SimInstance {
  task: RuntimeTask;
  running: boolean;
  startedAt: number;
  exit: ExitInfo | null;
  waiters: { ctx: SimCtx; resolve: (e: ExitInfo) => void }[];
  /** Why it stopped, when it was stopped by a worker (`stop`), for the observer. */
  stoppedBy: string | null;
}

/** What the observer hears from a machine. */
export interface MachineEvents {
  started(node: string, inst: SimInstance, adopted: boolean): void;
  stopped(node: string, inst: SimInstance, how: 'stop' | 'crash' | 'machine'): void;
  /** A line for the trace. */
  note(line: string): void;
}

/** A machine: its engine and the instances on it. */
export class SimMachine {
  readonly instances = new Map<string, SimInstance>();
  healthy = true;
  /** Profile switched off while the run heals (no new crashes or refusals). */
  calm = false;
  readonly #listeners = new Set<{ ctx: SimCtx; fn: (h: RuntimeHealth) => void }>();
  readonly ctx: SimCtx;

  constructor(
    readonly node: string,
    readonly sched: SimScheduler,
    readonly rng: Prng,
    readonly profile: RuntimeProfile,
    readonly events: MachineEvents,
  ) {
    this.ctx = sched.machineOf(node);
  }

  /** Running instances. */
  running(): SimInstance[] {
    return [...this.instances.values()].filter((i) => i.running);
  }

  /** The engine goes away or comes back; subscribed workers hear it. */
  setHealthy(ok: boolean): void {
    if (this.healthy === ok) return;
    this.healthy = ok;
    const h: RuntimeHealth = { ok, detail: ok ? 'sim engine answers' : 'sim engine lost', at: this.sched.clockOf(this.node) };
    for (const l of [...this.#listeners]) this.sched.post(l.ctx, 0, () => l.fn(h));
  }

  /** The machine crashes: every instance dies with it. */
  crashAll(): void {
    for (const inst of this.running()) this.#exit(inst, { code: 137, signal: 'SIGKILL', reason: 'unknown', message: 'machine crashed' }, 'machine');
    this.instances.clear();
  }

  #exit(inst: SimInstance, e: { code: number | null; signal: string | null; reason: ExitInfo['reason']; message: string }, how: 'stop' | 'crash' | 'machine'): void {
    if (!inst.running) return;
    inst.running = false;
    inst.exit = { ...e, oomKilled: false, finishedAt: this.sched.clockOf(this.node), logTail: [] };
    this.events.stopped(this.node, inst, how);
    const exit = inst.exit;
    for (const w of inst.waiters.splice(0)) this.sched.post(w.ctx, 0, () => w.resolve(exit));
  }

  /** The runtime a worker process (`ctx`) sees. */
  runtimeFor(ctx: SimCtx): Runtime {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the methods below are plain functions over this machine
    const m = this;
    const sched = this.sched;
    /** Answers in the worker's context after `ms`: resolves with `fn()`'s value or rejects with what it throws. */
    const answer = <T>(ms: number, fn: () => T): Promise<T> => new Promise<T>((resolve, reject) => {
      sched.post(m.ctx, ms, () => {
        let out: { ok: true; v: T } | { ok: false; e: unknown };
        try {
          out = { ok: true, v: fn() };
        } catch (e) {
          out = { ok: false, e };
        }
        sched.post(ctx, 0, () => (out.ok ? resolve(out.v) : reject(out.e)));
      });
    });
    const key = (id: string, gen: number): string => `${id}@${gen}`;
    const down = (): GoatError => new GoatError('GOAT_ERR_RUNTIME_UNAVAILABLE', 'docker runtime unavailable: sim engine lost', { temporary: true });
    const status = (i: SimInstance): TaskStatus => ({
      taskId: i.task.taskId, generation: i.task.generation, service: i.task.service, slot: i.task.slot, nodeId: i.task.nodeId, cluster: i.task.cluster,
      runtimeId: key(i.task.taskId, i.task.generation), running: i.running, state: i.running ? 'running' : 'exited', startedAt: i.startedAt,
      ...(i.exit ? { exit: i.exit } : {}), ports: [],
    });
    const runtime: Runtime = {
      kind: 'docker',
      prepare: (task) => answer(1, (): PrepareResult => {
        if (!m.healthy) throw down();
        const exists = m.instances.has(key(task.taskId, task.generation));
        if (!exists && !m.calm && m.rng.chance(m.profile.refuse)) {
          throw new GoatError('GOAT_ERR_RESOURCE', `not enough memory on ${m.node} (sim)`, { details: { resource: 'memory' } });
        }
        return { exists, diskNeededMb: 0 };
      }),
      start: (task) => {
        const k = key(task.taskId, task.generation);
        const existing = m.instances.get(k);
        const delay = existing?.running ? 1 : m.rng.int(m.profile.startMs[0], m.profile.startMs[1]);
        return answer(delay, (): RunningTask => {
          if (!m.healthy) throw down();
          const inst = m.instances.get(k);
          if (inst?.running) {
            m.events.started(m.node, inst, true);
            return { taskId: task.taskId, generation: task.generation, runtimeId: k, startedAt: inst.startedAt, adopted: true, ports: [] };
          }
          if (!m.calm && m.rng.chance(m.profile.failStart)) {
            throw new GoatError('GOAT_ERR_TASK_START', `cannot start ${task.taskId}: exec format error (sim)`, { details: { taskId: task.taskId } });
          }
          const fresh: SimInstance = inst ?? { task, running: false, startedAt: 0, exit: null, waiters: [], stoppedBy: null };
          fresh.running = true;
          fresh.exit = null;
          fresh.startedAt = sched.clockOf(m.node);
          m.instances.set(k, fresh);
          m.events.started(m.node, fresh, false);
          if (!m.calm && m.rng.chance(m.profile.crash)) {
            const startedAt = fresh.startedAt;
            sched.post(m.ctx, m.rng.int(1, m.profile.crashWithinMs), () => {
              if (m.calm || !fresh.running || fresh.startedAt !== startedAt) return;
              m.#exit(fresh, { code: 1, signal: null, reason: 'exited', message: 'exited with code 1' }, 'crash');
            });
          }
          return { taskId: task.taskId, generation: task.generation, runtimeId: k, startedAt: fresh.startedAt, adopted: false, ports: [] };
        });
      },
      wait: (taskId, generation) => new Promise<ExitInfo>((resolve, reject) => {
        sched.post(m.ctx, 0, () => {
          const inst = m.instances.get(key(taskId, generation));
          if (!inst) return void sched.post(ctx, 0, () => reject(new GoatError('GOAT_ERR_NO_SUCH_TASK', `no instance ${taskId}@${generation}`, { details: { taskId } })));
          if (!inst.running && inst.exit) {
            const exit = inst.exit;
            return void sched.post(ctx, 0, () => resolve(exit));
          }
          inst.waiters.push({ ctx, resolve });
        });
      }),
      inspect: (taskId, generation) => answer(1, () => {
        const inst = m.instances.get(key(taskId, generation));
        return inst ? status(inst) : undefined;
      }),
      stop: (taskId, generation) => answer(m.rng.int(1, 50), () => {
        const inst = m.instances.get(key(taskId, generation));
        m.events.note(`${m.node} engine stop ${taskId}@${generation}: ${!m.healthy ? 'engine lost' : !inst ? 'no such instance' : inst.running ? 'stopping' : 'not running'}`);
        if (!m.healthy) throw down();
        if (!inst) return undefined;
        if (inst.running) {
          inst.stoppedBy = 'worker';
          m.#exit(inst, { code: 143, signal: 'SIGTERM', reason: 'stopped', message: 'stopped' }, 'stop');
        }
        return inst.exit ?? undefined;
      }),
      remove: (taskId, generation) => answer(1, () => {
        const inst = m.instances.get(key(taskId, generation));
        if (inst?.running) m.#exit(inst, { code: 137, signal: 'SIGKILL', reason: 'stopped', message: 'removed' }, 'stop');
        m.instances.delete(key(taskId, generation));
      }),
      list: () => answer(1, () => [...m.instances.values()].map(status)),
      logs: () => answer(1, () => ({ stdout: [], stderr: [] })),
      stats: (taskId, generation) => answer(1, () => (m.instances.get(key(taskId, generation))?.running ? { memoryMb: 10, cpuSeconds: 1 } : undefined)),
      exec: () => answer(1, () => ({ code: 0, output: '' })),
      capacity: () => answer(1, (): Capacity => ({ cpus: 8, memoryMb: 16_384, diskFreeMb: 100_000, diskTotalMb: 200_000, diskPath: '/sim' })),
      health: () => answer(1, (): RuntimeHealth => ({ ok: m.healthy, detail: m.healthy ? 'sim engine answers' : 'sim engine lost', at: sched.clockOf(m.node) })),
      onHealth: (fn) => {
        const l = { ctx, fn };
        m.#listeners.add(l);
        return () => void m.#listeners.delete(l);
      },
      close: () => Promise.resolve(),
    };
    return runtime;
  }
}
