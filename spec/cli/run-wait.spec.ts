/** `run --wait` shows progress until the replicas run, and explains why when they cannot. */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster } from '../../actors/worker/index.js';
import { cli } from '../helpers/cli-process.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';

const quiet = { info: () => undefined, warn: () => undefined };

test('run --wait: progress until converged; a service that cannot be placed fails with the reason', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-wait-'));
  const manager = await Manager.start({ dataDir: join(dir, 'm'), listen: '127.0.0.1:0', token: 'wait-token-1234', logger: quiet });
  const w = await joinCluster({ join: manager.url, token: 'wait-token-1234', dataDir: join(dir, 'w'), runtime: 'process', logger: quiet, cluster: `goat-wait-${process.pid}` });
  t.teardown(async () => {
    for (const task of w.worker.tasks()) await w.worker.runtime.remove(task.id, task.generation).catch(() => undefined);
    await w.stop();
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await eventually('linked', () => manager.listNodes().length === 1);
  const g = ['--manager', manager.url, '--token', 'wait-token-1234'];
  const ok = await cli([...g, 'run', 'web', '--command', `node ${ECHO_SERVER}`, '-e', 'PORT=0', '--replicas', '2', '--wait']);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stderr, /web: 2\/2 running\n$/);
  t.is(manager.listTasks({ service: 'web', state: 'running' }).length, 2);
  const stuck = await cli([...g, 'run', 'big', '--command', 'node x.js', '--memory', '99999999', '--wait', '--timeout', '1']);
  t.is(stuck.code, 1);
  t.regex(stuck.stderr, /big did not converge: 0\/1 running; 0\/1 nodes available: 1 insufficient memory/);
});
