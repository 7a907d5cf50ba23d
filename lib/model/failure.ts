/**
 * Why a task failed, in four kinds, because each is handled differently:
 * - `app`: its program exited non-zero or was killed → the restart policy, with backoff;
 * - `health`: it failed its health check → stopped, then as `app`;
 * - `resource`: this node cannot hold it (image missing, disk, cpu, memory, port; OOM-killed)
 *   → refused without a local retry loop (OOM kills follow the restart policy, with backoff,
 *   and past the budget the task is `failed` for the manager to place elsewhere);
 * - `runtime`: the engine went away → the runtime actor restarts; tasks re-attach after it.
 */

/** The four kinds of task failure. */
export type FailureKind = 'app' | 'health' | 'resource' | 'runtime';

/** A classified failure, as task JSON carries it. */
export interface TaskFailure {
  kind: FailureKind;
  message: string;
  /** A `GOAT_ERR_*` code when one applies. */
  code?: string;
}

/** The part of an exit that matters here (the runtime's ExitInfo has it). */
export interface ExitFacts {
  code: number | null;
  signal: string | null;
  oomKilled: boolean;
  message: string;
}

/** The failure an exit stands for, or null for a clean exit (code 0). */
export function classifyExit(exit: ExitFacts): TaskFailure | null {
  if (exit.oomKilled) return { kind: 'resource', message: `killed for exceeding its memory limit (${exit.message})` };
  if (exit.code === 0) return null;
  return { kind: 'app', message: exit.message };
}

/** The failure a Goat error code stands for. */
export function classifyError(err: { code?: string; message: string }): TaskFailure {
  const code = err.code;
  const kind: FailureKind =
    code === 'GOAT_ERR_RESOURCE' ? 'resource'
      : code === 'GOAT_ERR_TASK_UNHEALTHY' ? 'health'
        : code === 'GOAT_ERR_RUNTIME_UNAVAILABLE' ? 'runtime'
          : 'app';
  return code ? { kind, message: err.message, code } : { kind, message: err.message };
}
