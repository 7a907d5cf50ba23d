/** Fixtures for the store specs: temp dirs and records. */
import type { ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeServiceSpec, normalizeTaskSpec, type NodeRecord, type ServiceSpec, type TaskRecord } from '../../lib/model/index.js';
import { openSqliteStore, type SqliteStoreOptions, type Store } from '../../lib/store/index.js';

/** A temp dir removed after the test. */
export function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'goat-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A store in a fresh temp dir, closed after the test. */
export function tempStore(t: ExecutionContext, options?: SqliteStoreOptions): Store {
  const store = openSqliteStore(join(tempDir(t), 'goat.db'), options);
  t.teardown(() => store.close());
  return store;
}

/** A valid service spec. */
export function service(name = 'web', replicas = 2, image = 'goat/echo:1'): ServiceSpec {
  return normalizeServiceSpec({ name, replicas, task: { image, ports: [{ container: 8080 }], env: { MODE: 'x' } } });
}

/** A task record. */
export function task(service: string, slot: number, extra: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: `${service}.${slot}.abc${slot}`,
    service,
    slot,
    generation: 1,
    node: null,
    state: 'pending',
    desired: 'running',
    restarts: 0,
    lastExit: null,
    failure: null,
    error: null,
    spec: normalizeTaskSpec({ image: 'goat/echo:1' }),
    createdAt: 1000,
    updatedAt: 1000,
    ...extra,
  };
}

/** A node record. */
export function node(id: string, extra: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    name: `name-${id}`,
    status: 'ready',
    labels: { zone: 'a' },
    capacity: { cpus: 4, memoryMb: 8192, diskFreeMb: 1000 },
    usage: { tasks: 0, memoryMb: 0, cpuSeconds: 0 },
    runtime: 'process',
    lastSeenAt: 5,
    createdAt: 1,
    updatedAt: 2,
    ...extra,
  };
}

/** Tasks of `web` (3 slots, some history, created at different times) and one of `api`: what a reconcile's read is tested on. */
export function slotHistory(): TaskRecord[] {
  const at = (svc: string, slot: number, generation: number, state: TaskRecord['state'], createdAt: number): TaskRecord =>
    task(svc, slot, { id: `${svc}.${slot}.g${generation}`, generation, state, createdAt, updatedAt: createdAt });
  return [
    at('web', 0, 1, 'failed', 10), at('web', 0, 2, 'failed', 20), at('web', 0, 3, 'running', 30),
    at('web', 1, 1, 'stopped', 10), at('web', 1, 2, 'failed', 50), at('web', 1, 3, 'failed', 60),
    at('web', 2, 1, 'failed', 10), at('web', 2, 2, 'pending', 55),
    at('api', 0, 1, 'failed', 70),
  ];
}
