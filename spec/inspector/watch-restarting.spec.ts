/**
 * The inspector in a real terminal (tmux) shows a task that keeps crashing:
 * under its node, the worker's tree with the task restarting, a countdown to
 * its next restart, its restarts in the window and its last error.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster } from '../../actors/worker/index.js';
import { CLI } from '../helpers/cli-process.js';
import { eventually } from '../runtime/helpers/wait.js';
import { TMUX, requires } from '../helpers/requires.js';

const run = promisify(execFile);
const TOKEN = 'inspector-restart-token';
const quiet = { info: () => undefined, warn: () => undefined };
requires(TMUX).test('a crash-looping task shows as restarting, with its countdown, restarts and last error', async (t) => {
  t.timeout(40_000);
  const dir = await mkdtemp(join(tmpdir(), 'goat-insp-restart-'));
  const manager = await Manager.start({ dataDir: join(dir, 'manager'), listen: '127.0.0.1:0', token: TOKEN, logger: quiet });
  const worker = await joinCluster({ join: manager.url, token: TOKEN, dataDir: join(dir, 'w'), name: 'w', runtime: 'process', cluster: `goat-insp-r-${process.pid}`, logger: quiet });
  manager.attachLocalWorker(worker.worker.nodeId, () => worker.worker.tree());
  const socket = `goat-insp-r-${process.pid}`;
  const tmux = async (...args: string[]): Promise<string> => (await run('tmux', ['-L', socket, ...args])).stdout;
  t.teardown(async () => {
    await tmux('kill-server').catch(() => undefined);
    for (const task of worker.worker.tasks()) await worker.worker.runtime.remove(task.id, task.generation).catch(() => undefined);
    await worker.stop().catch(() => undefined);
    await manager.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  await eventually('linked', () => manager.listNodes().some((n) => n.status === 'ready'));
  await manager.putService({ name: 'crashy', replicas: 1, task: {
    command: ['node', '-e', 'console.error("boom"); process.exit(3)'],
    restart: { policy: 'always', maxRestarts: 50, windowMs: 600_000, backoff: { initialMs: 4_000, factor: 2, maxMs: 60_000, jitter: 0 } },
  } });
  await eventually('crashed once', () => (manager.listTasks({ service: 'crashy' })[0]?.restarts ?? 0) >= 1, 20_000);
  const taskId = manager.listTasks({ service: 'crashy' })[0]!.id;

  await tmux('new-session', '-d', '-s', 'goat', '-x', '160', '-y', '40', `${process.execPath} ${CLI} tree --watch --manager ${manager.url} --token ${TOKEN}`);
  const screen = (): Promise<string> => tmux('capture-pane', '-p', '-t', 'goat');
  const seen = await eventually('the restarting task with its countdown', async () => {
    const s = await screen();
    return new RegExp(`◐ ${taskId.replace(/\./g, '\\.')}\\s+restarting.*restarts 1.*restart in \\d+(\\.\\d)?s`).test(s) ? s : undefined;
  }, 10_000, 200).catch(async (e: Error) => {
    throw new Error(`${e.message}\n--- screen:\n${await screen()}`);
  });
  t.regex(seen, /exited with code 3/, 'the last error');
  t.regex(seen, /● worker/, 'the worker tree under its node');
  t.regex(seen, /● tasks/);
  // The countdown counts down.
  const count = (s: string): number => Number(/restart in (\d+(?:\.\d)?)s/.exec(s)?.[1]);
  const before = count(seen);
  await new Promise((r) => setTimeout(r, 1_200));
  const later = count(await screen());
  t.true(later < before, `the countdown went from ${before}s to ${later}s`);
  t.log(seen);
});
