/**
 * Faults for real-process cluster tests (see ../shared/NOTES.md, "Faults for
 * tests"): a worker started inside its own PID namespace
 * (`unshare -fp --mount-proc --kill-child`), so that `kill -9` of the unshare
 * process takes the worker and every task process it started down at once —
 * a machine crash — plus SIGSTOP / SIGCONT of a single process.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI, ServerProcess, type ProcessCluster, type WorkerHandle } from './cli-process.js';
import { testEnv } from './env.js';

/** The environment of every process started here (see ./env.ts). */
const cleanEnv = (): NodeJS.ProcessEnv => testEnv();

/**
 * Starts `worker --join … --name NAME --runtime process` inside a new PID
 * namespace, detached (its own process group). The returned handle's `proc`
 * is the unshare process: `proc.kill9()` kills the namespace, worker and
 * tasks together. The handle is added to `c.workers` (so `c.cleanup()` also
 * looks at its process records); the caller must kill `proc` at cleanup,
 * since `ProcessCluster` does not track it.
 */
export function startWorkerInPidNamespace(c: ProcessCluster, name: string): WorkerHandle {
  const dataDir = join(c.dir, name);
  const child = spawn('unshare', [
    '-fp', '--mount-proc', '--kill-child',
    process.execPath, CLI, 'worker', '--join', `ws://127.0.0.1:${c.port}`, '--token', c.token, '--data-dir', dataDir, '--name', name, '--runtime', 'process',
  ], { env: cleanEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const w = { name, dataDir, proc: new ServerProcess(name, child) };
  c.workers.push(w);
  return w;
}

/** Sends `signal` to one process (not its group); false when it is gone. */
export function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
