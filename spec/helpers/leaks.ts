/**
 * What a test run left behind. spec/suite.ts (what `npm test` runs) gives
 * every process it starts `GOAT_TEST_RUN=<id>` and a temp dir of its own
 * (TMPDIR); children inherit both, task processes keep the variable
 * (lib/runtime/process-env.ts) and the Docker runtime labels its containers
 * `goat.test-run=<id>` (lib/runtime/docker-spec.ts). So after the run:
 * - a process is the run's when its /proc/PID/environ has that variable;
 * - a container is the run's when it has that label;
 * - anything in the run's temp dir is the run's.
 * Nothing else on the machine (other people's clusters, the quickstart's echo)
 * can be mistaken for a leftover.
 */
import type Dockerode from 'dockerode';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** The variable that marks a test run's processes. */
export const RUN_ENV = 'GOAT_TEST_RUN';

/** The label that marks a test run's containers. */
export const RUN_LABEL = 'goat.test-run';

/** A process a run left. */
export interface LeftProcess {
  pid: number;
  /** Its command line, arguments joined by spaces. */
  command: string;
}

/** A container a run left. */
export interface LeftContainer {
  id: string;
  name: string;
  state: string;
}

/** What a run left behind. */
export interface Leftovers {
  processes: LeftProcess[];
  containers: LeftContainer[];
  /** Entries of the run's temp dir. */
  tempEntries: string[];
}

/** Caches tools keep in TMPDIR on purpose, not leftovers: jiti's transpile cache (`start` loading cluster.config.ts). */
export const TEMP_CACHES = ['jiti'];

/** True when nothing was left. */
export function clean(l: Leftovers): boolean {
  return l.processes.length === 0 && l.containers.length === 0 && l.tempEntries.length === 0;
}

/** Live processes (zombies excluded: their environ reads empty) whose environment has `GOAT_TEST_RUN=runId`. */
export async function runProcesses(runId: string): Promise<LeftProcess[]> {
  const needle = `${RUN_ENV}=${runId}`;
  const found: LeftProcess[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
      if (!environ.split('\0').includes(needle)) continue;
      const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ');
      found.push({ pid, command });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Containers (running or not) labelled `goat.test-run=runId`. */
export async function runContainers(docker: Dockerode, runId: string): Promise<LeftContainer[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } });
  return list.map((c) => ({ id: c.Id.slice(0, 12), name: (c.Names[0] ?? '').replace(/^\//, ''), state: c.State }));
}

/** Everything the run `runId` left; `docker` undefined when no engine answers; `tempDir` the run's TMPDIR. */
export async function leftovers(runId: string, docker: Dockerode | undefined, tempDir: string | undefined): Promise<Leftovers> {
  const [processes, containers, tempEntries] = await Promise.all([
    runProcesses(runId),
    docker ? runContainers(docker, runId).catch(() => []) : [],
    tempDir ? readdir(tempDir).then((names) => names.filter((n) => !TEMP_CACHES.includes(n)), () => []) : [],
  ]);
  return { processes, containers, tempEntries: tempEntries.sort() };
}

/** A report of leftovers, one line each, for a failing run. */
export function describe(l: Leftovers, tempDir?: string): string {
  return [
    ...l.processes.map((p) => `process ${p.pid}: ${p.command}`),
    ...l.containers.map((c) => `container ${c.id} ${c.name} (${c.state})`),
    ...l.tempEntries.map((e) => `temp ${tempDir ? join(tempDir, e) : e}`),
  ].join('\n');
}

/** Removes leftovers: SIGKILLs the processes, force-removes the containers, deletes the temp entries. */
export async function reap(l: Leftovers, docker: Dockerode | undefined, tempDir: string | undefined): Promise<void> {
  for (const p of l.processes) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (docker) await Promise.all(l.containers.map((c) => docker.getContainer(c.id).remove({ force: true }).catch(() => undefined)));
  if (tempDir) await Promise.all(l.tempEntries.map((e) => rm(join(tempDir, e), { recursive: true, force: true }).catch(() => undefined)));
}
