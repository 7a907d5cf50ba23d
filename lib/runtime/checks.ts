/**
 * The resource checks `prepare` runs, shared by both runtimes. Each throws
 * `GOAT_ERR_RESOURCE` with `details.resource` naming what is missing, so a
 * caller can tell "this node cannot run it" from "the program failed".
 */
import { createServer } from 'node:net';
import { GoatError } from '../errors.js';
import type { Capacity, PortMapping, TaskResources } from './types.js';

/** Throws `GOAT_ERR_RESOURCE` (cpu or memory) when the task asks for more than the node has in total. */
export function checkCpuMemory(resources: TaskResources | undefined, capacity: Capacity): void {
  if (resources?.cpu !== undefined && resources.cpu > capacity.cpus) {
    throw new GoatError('GOAT_ERR_RESOURCE', `the task asks for ${resources.cpu} CPUs; this node has ${capacity.cpus}`, {
      details: { resource: 'cpu', neededCpus: resources.cpu, availableCpus: capacity.cpus },
    });
  }
  if (resources?.memoryMb !== undefined && resources.memoryMb > capacity.memoryMb) {
    throw new GoatError('GOAT_ERR_RESOURCE', `the task asks for ${resources.memoryMb} MiB of memory; this node has ${capacity.memoryMb} MiB`, {
      details: { resource: 'memory', neededMb: resources.memoryMb, availableMb: capacity.memoryMb },
    });
  }
}

/** Throws `GOAT_ERR_RESOURCE` (disk) when `neededMb` does not fit in `freeMb` (skipped when free space is unknown). */
export function checkDisk(neededMb: number, freeMb: number | undefined, path: string, what: string): void {
  if (freeMb !== undefined && neededMb > freeMb) {
    throw new GoatError('GOAT_ERR_RESOURCE', `not enough disk for ${what}: needs ${neededMb} MiB, ${freeMb} MiB free in ${path}`, {
      details: { resource: 'disk', neededMb, freeMb, path },
    });
  }
}

/** Resolves true when nothing listens on `port` on any IPv4 address of this machine. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws `GOAT_ERR_RESOURCE` (port) for the first host port that is taken. */
export async function checkPorts(ports: PortMapping[]): Promise<void> {
  for (const port of ports) {
    if (port.host === undefined) continue;
    if (!(await portIsFree(port.host))) {
      throw new GoatError('GOAT_ERR_RESOURCE', `host port ${port.host} is already in use on this node`, {
        details: { resource: 'port', port: port.host },
      });
    }
  }
}
