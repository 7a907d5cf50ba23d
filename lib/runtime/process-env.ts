/**
 * What a task process gets: its environment (the worker's, minus Goat's own
 * `GOAT_*` settings and secrets, plus the task's env and `PORT`) and the
 * executable its command names, resolved like a shell would.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { GoatError } from '../errors.js';
import type { PortMapping, RuntimeTask, RuntimeTaskSpec } from './types.js';

/** The argv of a process task, or `GOAT_ERR_INVALID_SPEC` naming `spec.command`. */
export function commandOf(task: RuntimeTask): string[] {
  const command = task.spec.command;
  if (!Array.isArray(command) || command.length === 0 || command.some((arg) => typeof arg !== 'string') || command[0] === '') {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `task ${task.taskId} has no command; the process runtime needs one`, {
      details: { field: 'spec.command' },
    });
  }
  return command;
}

/** The port a process task is told to listen on: the first port's host port, else its container port (DESIGN.md). */
export function portOf(spec: RuntimeTaskSpec): number | undefined {
  const first = spec.ports?.[0];
  return first === undefined ? undefined : (first.host ?? first.container);
}

/** The ports a process binds on the host: each mapping's host port, else its container port. */
export function hostPorts(spec: RuntimeTaskSpec): PortMapping[] {
  return (spec.ports ?? []).map((port) => ({ host: port.host ?? port.container, container: port.container }));
}

/**
 * The environment of a task process: `base` without `GOAT_*` (except
 * `GOAT_TEST_RUN`, which marks what a test run started), then `spec.env`,
 * then `PORT`.
 */
export function taskEnv(spec: RuntimeTaskSpec, base: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value !== undefined && (!key.startsWith('GOAT_') || key === 'GOAT_TEST_RUN')) env[key] = value;
  }
  Object.assign(env, spec.env ?? {});
  const port = portOf(spec);
  if (port !== undefined) env['PORT'] = String(port);
  return env;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path `name` runs (a path relative to `cwd`, or looked up in `PATH`), or undefined. */
export async function resolveExecutable(name: string, cwd: string, path: string | undefined): Promise<string | undefined> {
  if (name.includes('/')) {
    const file = isAbsolute(name) ? name : resolve(cwd, name);
    return (await isExecutable(file)) ? file : undefined;
  }
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(isAbsolute(dir) ? dir : resolve(cwd, dir), name);
    if (await isExecutable(file)) return file;
  }
  return undefined;
}
