/** `run --wait` shows progress until the replicas run, and explains why when they cannot. */
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster } from '../../actors/worker/index.js';
import { cli } from '../helpers/cli-process.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';

const quiet = { info: () => undefined, warn: () => undefined };

/** A manager and one process worker in this process, linked; both stopped (and the worker's tasks removed) at teardown. Returns the CLI's global flags. */
async function cluster(t: ExecutionContext, token: string, name: string): Promise<{ manager: Manager; g: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'goat-wait-'));
  const manager = await Manager.start({ dataDir: join(dir, 'm'), listen: '127.0.0.1:0', token, logger: quiet });
  const w = await joinCluster({ join: manager.url, token, dataDir: join(dir, 'w'), runtime: 'process', logger: quiet, cluster: `${name}-${process.pid}` });
  t.teardown(async () => {
    for (const task of w.worker.tasks()) await w.worker.runtime.remove(task.id, task.generation).catch(() => undefined);
    await w.stop();
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await eventually('linked', () => manager.listNodes().length === 1);
  return { manager, g: ['--manager', manager.url, '--token', token] };
}

test('run --wait: progress until converged; a service that cannot be placed fails with the reason', async (t) => {
  const { manager, g } = await cluster(t, 'wait-token-1234', 'goat-wait');
  const ok = await cli([...g, 'run', 'web', '--command', `node ${ECHO_SERVER}`, '-e', 'PORT=0', '--replicas', '2', '--wait']);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stderr, /web: 2\/2 running\n$/);
  t.is(manager.listTasks({ service: 'web', state: 'running' }).length, 2);
  const stuck = await cli([...g, 'run', 'big', '--command', 'node x.js', '--memory', '99999999', '--wait', '--timeout', '1']);
  t.is(stuck.code, 1);
  t.regex(stuck.stderr, /big did not converge: 0\/1 running; 0\/1 nodes available: 1 insufficient memory/);
});

test('--wait judges the current generation and spec: after failed generations, update and scale --wait exit 0; a rollout that pauses fails at once saying why (issue 10)', async (t) => {
  const { manager, g } = await cluster(t, 'wait-token-5678', 'goat-wait2');
  // A command that exists nowhere: the slot fails generation after generation.
  const bad = await cli([...g, 'run', 'flaky', '--command', `goat-no-such-program-${process.pid}`]);
  t.is(bad.code, 0, bad.stderr);
  await eventually('two failed generations', () => manager.listTasks({ service: 'flaky', state: 'failed' }).length >= 2, 30_000, 100);
  const fixed = await cli([...g, 'update', 'flaky', '--command', `node ${ECHO_SERVER}`, '-e', 'PORT=0', '--update-monitor-ms', '200', '--wait', '--timeout', '60']);
  t.is(fixed.code, 0, fixed.stderr);
  t.regex(fixed.stderr, /flaky: 1\/1 running\n$/);
  const scaled = await cli([...g, 'scale', 'flaky', '2', '--wait', '--timeout', '60']);
  t.is(scaled.code, 0, scaled.stderr);
  t.regex(scaled.stderr, /flaky: 2\/2 running\n$/);
  t.is(manager.listTasks({ service: 'flaky', state: 'running' }).length, 2);

  // The rollout is recorded with the change itself: a --wait reading the service at once sees this change's rollout, not the last one's.
  const changed = await manager.putService({ ...manager.getService('flaky')!.spec, task: { ...manager.getService('flaky')!.spec.task, env: { PORT: '0', V: '2' } } });
  t.like(changed.record.update, { state: 'updating', version: changed.record.version });
  await eventually('the V=2 rollout completed', () => manager.getService('flaky')?.update?.state === 'completed', 30_000, 100);
  t.is(manager.listTasks({ service: 'flaky' }).filter((x) => x.state === 'running' && x.spec.env['V'] === '2').length, 2);

  // A task that completes (exit 0) under restart policy on-failure: its slot's work is done. --wait counts it, it is not re-placed.
  const seen: string[] = [];
  manager.subscribeEvents((e) => void ((e.subject === 'once' || e.subject.startsWith('once/')) && seen.push(e.type)));
  const once = await cli([...g, 'run', 'once', '--command', 'node -e 0', '--restart', 'on-failure', '--replicas', '2', '--wait', '--timeout', '60']);
  t.is(once.code, 0, once.stderr);
  // It may have caught a task running for a moment (converged too); once they completed, --wait counts them as done.
  t.regex(once.stderr, /once: (2\/2 running|1\/2 running, 1 completed|0\/2 running, 2 completed)\n$/);
  await eventually('both completed', () => manager.listTasks({ service: 'once', state: 'completed' }).length === 2, 30_000, 50);
  const again = await cli([...g, 'scale', 'once', '2', '--wait', '--timeout', '60']);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /once: 0\/2 running, 2 completed\n$/);
  // Longer than the first reschedule delay (1 s): nothing re-placed.
  await new Promise((r) => setTimeout(r, 2_500));
  t.deepEqual(manager.listTasks({ service: 'once' }).map((x) => `${x.slot} g${x.generation} ${x.state}`).sort(), ['0 g1 completed', '1 g1 completed']);
  t.deepEqual(seen.filter((type) => type === 'slot.backoff' || type === 'alert' || type === 'service.degraded'), []);
  t.is(manager.getService('once')?.status?.state ?? 'running', 'running');
  const ps = await cli([...g, 'ps', '--service', 'once']);
  t.regex(ps.stdout, /completed .*completed \(restart policy on-failure\)/);
  const services = await cli([...g, 'services']);
  t.regex(services.stdout, /once\s+running\s+0\/2/);

  // A spec that crashes, failureAction pause: --wait fails with the pause's reason, long before its timeout.
  const crash = await cli([...g, 'update', 'flaky', '--command', 'node -e process.exit(3)', '--update-failure-action', 'pause', '--wait', '--timeout', '120']);
  t.is(crash.code, 1, crash.stderr);
  t.regex(crash.stderr, /flaky: update paused: \d+ of \d+ new tasks? failed .*exited with code 3/);
  t.notRegex(crash.stderr, /did not converge/);
});
