/**
 * The worker's `tasks` supervisor has a real budget (TASKS_BUDGET): a hot
 * loop of task restarts past it makes `tasks` give up and escalate, as an
 * OTP supervisor past its intensity; the worker (rest_for_one) restarts it,
 * and the task runs again under the new `tasks`. Real processes; the budget
 * is made small here so that a few fast crashes spend it.
 */
import test from 'ava';
import { join } from 'node:path';
import { TASKS_BUDGET, WORKER_PATH, type WorkerEvent } from '../../actors/worker/index.js';
import { startTestWorker } from '../helpers/worker.js';
import { eventually } from '../runtime/helpers/wait.js';

const CLUSTER = `goat-test-${process.pid}`;

test('the tasks budget is a real number with a window', (t) => {
  t.true(Number.isFinite(TASKS_BUDGET.maxRestarts) && TASKS_BUDGET.maxRestarts <= 10_000);
  t.true(TASKS_BUDGET.windowMs > 0);
});

test('task restarts past the tasks budget: tasks gives up and escalates to the worker, which restarts it', async (t) => {
  const { w, events, dir } = await startTestWorker(t, { runtime: 'process', cluster: CLUSTER, tasksBudget: { maxRestarts: 3, windowMs: 60_000 } });
  const taskId = `hot.0.b${process.pid}`;
  // Crashes at once its first 5 runs, then runs: the loop is over by the time the worker restarts `tasks`.
  const script = 'const fs=require("fs"),f=process.argv[1],n=fs.existsSync(f)?+fs.readFileSync(f,"utf8"):0;fs.writeFileSync(f,String(n+1));if(n<5)process.exit(1);setInterval(()=>{},1e6)';
  // No backoff and a budget of its own far above the supervisor's: a hot loop only `tasks`' budget stops.
  await w.assign({ taskId, service: 'hot', slot: 0, generation: 1, spec: { command: ['node', '-e', script, join(dir, 'runs')], restart: { policy: 'always', maxRestarts: 1_000, windowMs: 60_000, backoff: { initialMs: 0, maxMs: 0, factor: 1, jitter: 0, resetAfterMs: 60_000 } } } });
  const sup = (e: WorkerEvent) => (e.type === 'supervision' ? e.event : null);
  const tasksPath = `${WORKER_PATH}/tasks`;
  await eventually('tasks escalated to the worker', () => events.some((e) => sup(e)?.type === 'escalated' && sup(e)?.path === tasksPath), 20_000);
  const spent = events.map(sup).find((e) => e?.type === 'budget_exceeded' && e.path === tasksPath);
  t.is(spent?.type === 'budget_exceeded' ? spent.scope : undefined, 'supervisor');
  t.regex(spent?.type === 'budget_exceeded' ? spent.why : '', /supervisor budget spent: 3 restarts within 60000 ms \(max 3\)/);
  const escalated = events.map(sup).find((e) => e?.type === 'escalated' && e.path === tasksPath);
  t.is(escalated?.type === 'escalated' ? escalated.to : undefined, WORKER_PATH, 'to its parent, the worker');
  t.false(escalated?.type === 'escalated' ? escalated.final : true, 'not the root: the worker has budget left');
  // The worker restarts `tasks` (a crash of its child), and the task is started again by the new incarnation.
  await eventually('the worker restarted tasks, and the task runs under it', () => {
    const tasks = w.tree().children?.find((c) => c.id === 'tasks');
    return tasks !== undefined && tasks.restarts >= 1 && tasks.status === 'running' && w.task(taskId)?.state === 'running';
  }, 20_000);
  t.is(w.tree().status, 'running', 'the worker itself carries on');
  t.is(w.tree().children?.find((c) => c.id === 'tasks')?.children?.find((c) => c.id === taskId)?.status, 'running');
  await w.stopTask(taskId);
});
