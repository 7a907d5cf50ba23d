/** Task fixtures: a unique cluster per test run, so cleanup can remove exactly what the run created. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import type { RuntimeTask, RuntimeTaskSpec } from '../../../lib/runtime/index.js';

/** This test process's cluster label value. */
export const TEST_CLUSTER = `goat-test-${nanoid(8).replace(/[^A-Za-z0-9]/g, 'x')}`;

/** A task of {@link TEST_CLUSTER} with a fresh task id, generation 1, slot 0. */
export function makeTask(service: string, spec: RuntimeTaskSpec, overrides: Partial<RuntimeTask> = {}): RuntimeTask {
  const id = nanoid(10).replace(/[^A-Za-z0-9]/g, 'x');
  return {
    taskId: `${service}.0.${id}`,
    generation: 1,
    service,
    slot: 0,
    nodeId: 'node-test',
    cluster: TEST_CLUSTER,
    spec,
    ...overrides,
  };
}

const dataDirs: string[] = [];

/** A fresh temporary data dir, deleted by {@link removeTempDataDirs}. */
export async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'goat-runtime-'));
  dataDirs.push(dir);
  return dir;
}

/** Deletes every data dir {@link tempDataDir} made. */
export async function removeTempDataDirs(): Promise<void> {
  await Promise.all(dataDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}
