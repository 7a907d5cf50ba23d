/**
 * One task's actor: starts (or adopts) its container or process, waits for
 * it to exit, health-checks it. An exit with code 0 is a normal exit; any
 * other exit, an OOM kill or a failed health check is a crash, and the
 * restart policy (through the `tasks` supervisor) decides. A resource
 * refusal is not retried here: it is reported so the task can be placed
 * elsewhere.
 */
import { GoatError, isGoatError } from '../../lib/errors.js';
import { childOptionsFor } from '../../lib/model/index.js';
import type { ExitInfo, Runtime, RunningTask, RuntimeTask } from '../../lib/runtime/index.js';
import { HealthChecker, probeOnce } from '../../lib/runtime/task-health.js';
import type { Assignment } from '../../lib/store/worker-state.js';
import type { ChildSpec } from '../../lib/supervision/index.js';
import { actorChild, type NactRef } from '../supervision/index.js';

/** What a task actor tells the worker. */
export type TaskReport =
  | { type: 'starting'; taskId: string }
  | { type: 'running'; taskId: string; run: RunningTask; /** False until its first health check passes (tasks with one). */ healthy: boolean }
  | { type: 'healthy'; taskId: string }
  | { type: 'exited'; taskId: string; exit: ExitInfo }
  | { type: 'unhealthy'; taskId: string; detail: string }
  | { type: 'refused'; taskId: string; error: GoatError };

/** What a task actor needs from its worker. */
export interface TaskDeps {
  /** The runtime of the moment (it is replaced when the runtime actor restarts). */
  runtime(): Runtime;
  /** Cluster name and node id for labels. */
  cluster: string;
  nodeId: string;
  report(r: TaskReport): void;
}

type Msg =
  | { type: 'exit'; run: number; exit: ExitInfo }
  | { type: 'unhealthy'; run: number; detail: string }
  | { type: 'healthy'; run: number }
  | { type: 'refused'; error: GoatError };

interface State {
  run: number;
  checker: HealthChecker | null;
  refused: boolean;
}

let runs = 0;

/** The exit of a task as a crash reason the supervisor shows. */
export class TaskExit extends Error {
  override readonly name = 'TaskExit';
  constructor(readonly exit: ExitInfo) {
    super(exit.message);
  }
}

/** The runtime's view of an assignment. */
export function runtimeTask(a: Assignment, deps: Pick<TaskDeps, 'cluster' | 'nodeId'>): RuntimeTask {
  return {
    taskId: a.taskId, generation: a.generation, service: a.service, slot: a.slot, nodeId: deps.nodeId, cluster: deps.cluster,
    spec: {
      ...(a.spec.image ? { image: a.spec.image } : {}),
      ...(a.spec.command ? { command: a.spec.command } : {}),
      env: a.spec.env, ports: a.spec.ports, resources: a.spec.resources,
    },
  };
}

/** The child spec of one task's actor under the `tasks` supervisor. */
export function taskChild(a: Assignment, deps: TaskDeps): ChildSpec<NactRef> {
  const task = runtimeTask(a, deps);
  return actorChild<State, Msg>({
    ...childOptionsFor(a.taskId, a.spec),
    init: async (ctx) => {
      const send = (m: Msg): void => ctx.tell(m);
      const run = ++runs;
      const rt = deps.runtime();
      deps.report({ type: 'starting', taskId: a.taskId });
      try {
        await rt.prepare(task);
      } catch (err) {
        if (!isGoatError(err, 'GOAT_ERR_RESOURCE')) throw err;
        send({ type: 'refused', error: err });
        return { run, checker: null, refused: true };
      }
      const started = await rt.start(task);
      deps.report({ type: 'running', taskId: a.taskId, run: started, healthy: !a.spec.health });
      rt.wait(a.taskId, a.generation).then(
        (exit) => send({ type: 'exit', run, exit }),
        () => undefined, // the engine went away: the runtime actor restarts, and the tasks with it
      );
      let checker: HealthChecker | null = null;
      if (a.spec.health) {
        const health = a.spec.health;
        const target = {
          host: '127.0.0.1',
          portOf: (p: number): number => started.ports.find((m) => m.container === p)?.host ?? p,
          exec: (argv: string[], timeoutMs: number) => rt.exec(a.taskId, a.generation, argv, timeoutMs),
        };
        checker = new HealthChecker(health, () => probeOnce(health, target), (detail) => send({ type: 'unhealthy', run, detail }), undefined, () => send({ type: 'healthy', run }));
        checker.start();
      }
      return { run, checker, refused: false };
    },
    receive: async (state, msg, ctx) => {
      switch (msg.type) {
        case 'refused':
          deps.report({ type: 'refused', taskId: a.taskId, error: msg.error });
          return state;
        case 'exit':
          if (msg.run !== state.run) return state;
          state.checker?.stop();
          deps.report({ type: 'exited', taskId: a.taskId, exit: msg.exit });
          if (msg.exit.code === 0 && !msg.exit.oomKilled) {
            ctx.exit();
            return state;
          }
          throw new TaskExit(msg.exit);
        case 'healthy':
          if (msg.run === state.run) deps.report({ type: 'healthy', taskId: a.taskId });
          return state;
        case 'unhealthy': {
          if (msg.run !== state.run) return state;
          deps.report({ type: 'unhealthy', taskId: a.taskId, detail: msg.detail });
          const exit = await deps.runtime().stop(a.taskId, a.generation, a.spec.stopTimeoutMs);
          throw new GoatError('GOAT_ERR_TASK_UNHEALTHY', `${msg.detail}${exit ? `; stopped: ${exit.message}` : ''}`, { details: { taskId: a.taskId } });
        }
      }
    },
    // A worker that stops leaves its tasks running; stopping a task on purpose goes through the runtime first.
    terminate: (state) => state.checker?.stop(),
  });
}
