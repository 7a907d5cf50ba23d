/**
 * Self-fencing (`disconnect.stopAfterMs`): a worker cut off from every
 * manager stops the tasks that ask for it, in time; the others keep running.
 * In-process manager and worker, real WebSockets, process runtime.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster, type JoinedWorker } from '../../actors/worker/index.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually, pidExists, pidGone } from '../runtime/helpers/wait.js';

const TOKEN = 'test-token-fence-123456';
const quiet = { info: () => undefined, warn: () => undefined };

test('cut off from the manager: the task with stopAfterMs 500 is stopped by its worker within ~1 s; the other keeps running', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-fence-'));
  const manager = await Manager.start({ dataDir: join(dir, 'manager'), listen: '127.0.0.1:0', token: TOKEN, logger: quiet });
  const w: JoinedWorker = await joinCluster({ join: manager.url, token: TOKEN, dataDir: join(dir, 'w0'), name: 'w0', runtime: 'process', cluster: `goat-fence-${process.pid}`, logger: quiet, backoff: { initialMs: 50, maxMs: 500 } });
  t.teardown(async () => {
    for (const task of w.worker.tasks()) await w.worker.runtime.remove(task.id, task.generation).catch(() => undefined);
    await w.stop().catch(() => undefined);
    await manager.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  await eventually('linked', () => manager.listNodes().some((n) => n.status === 'ready'));
  const put = (name: string, task: object) => fetch(`${manager.url}/v1/services/${name}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ replicas: 1, task }) });
  await put('fenced', { command: ['node', ECHO_SERVER], env: { PORT: '0' }, disconnect: { stopAfterMs: 500 } });
  await put('kept', { command: ['node', ECHO_SERVER], env: { PORT: '0' } });
  const runningOf = (service: string) => w.worker.tasks().find((x) => x.service === service && x.state === 'running');
  const [fenced, kept] = await eventually('both running', () => {
    const a = runningOf('fenced');
    const b = runningOf('kept');
    return a && b ? [a, b] as const : undefined;
  }, 20_000);
  const pidOf = async (id: string, generation: number) => Number((await w.worker.runtime.inspect(id, generation))!.runtimeId);
  const fencedPid = await pidOf(fenced.id, fenced.generation);
  const keptPid = await pidOf(kept.id, kept.generation);

  const cutAt = Date.now();
  const seen: string[] = [];
  w.worker.subscribe((e) => void (e.type === 'task' && seen.push(`${e.task.service}:${e.task.state}@+${Date.now() - cutAt}ms`)));
  await manager.stop(); // the only manager is gone
  await eventually('fenced task stopped by its worker', () => w.worker.task(fenced.id)?.state === 'stopped', 5_000, 10);
  t.true(await pidGone(fencedPid, 5_000), 'the fenced task\'s process is gone');
  const fencedMs = Date.now() - cutAt;
  t.log(`manager gone → fenced task's process gone in ${fencedMs} ms (stopAfterMs 500); worker events: ${seen.join(', ')}`);
  t.false((await w.worker.runtime.inspect(fenced.id, fenced.generation))?.running ?? false, 'nothing of it runs');
  await new Promise((r) => setTimeout(r, 500));
  t.true(pidExists(keptPid), 'the task without stopAfterMs keeps running');
  t.is(w.worker.task(kept.id)?.state, 'running');
  t.false(w.worker.state.assignments().some((a) => a.taskId === fenced.id), 'fenced: no longer assigned here');
});
