/**
 * Slots supervised by the manager and rolling updates (issue 10), with real
 * processes: one `goat-cluster manager` and `goat-cluster worker --runtime
 * process` workers on loopback per test, driven through the CLI and the API.
 *
 * - the reproduction: a service whose command exists on no node backs off
 *   (at most 5 generations in 10 s), says why, alternates nodes, spends its
 *   budget (an `alert`, `degraded`), and runs once a node with the command joins;
 * - rollouts of 4 replicas: stop-first never below 3 running, start-first never
 *   below 4; a crashing spec rolls back by itself; `pause` says why;
 * - a manager `kill -9` mid-rollout, restarted: the rollout finishes, no updated task restarted.
 */
import test from 'ava';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { ProcessCluster, processRecords } from '../helpers/cli-process.js';
import { freePort } from '../runtime/helpers/net.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';
import type { TreeNode } from '../../lib/supervision/index.js';

const TOKEN = `slots-token-${nanoid(12)}`;
const RUN = `goat-slots-${process.pid}-${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`;

interface Task {
  id: string; service: string; slot: number; generation: number; node: string | null; state: string; desired: string; restarts: number;
  failure: { kind: string; message: string } | null; error: { message: string } | null; notBefore?: number; spec: unknown;
}
interface Service { name: string; replicas: number; version: number; status: { state: string; reason?: string }; update: { state: string; message: string } | null; spec: { task: { env: Record<string, string> } } }
interface Event { seq: number; type: string; subject: string; data: Record<string, unknown> }
interface Node { id: string; name: string; status: string }

const clusters: ProcessCluster[] = [];
test.after.always(async () => {
  await Promise.all(clusters.map((c) => c.cleanup()));
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function cluster(workers: string[]): Promise<ProcessCluster> {
  const c = await ProcessCluster.create(await freePort(), TOKEN);
  clusters.push(c);
  await c.startManager();
  for (const name of workers) c.startWorker(name);
  await eventually(`${workers.join(', ')} linked`, async () => {
    const ns = (await c.api<Node[]>('GET', '/v1/nodes').catch(() => ({ json: [] as Node[] }))).json;
    return workers.every((w) => ns.some((n) => n.name === w && n.status === 'ready'));
  }, 30_000, 100);
  return c;
}

const tasks = async (c: ProcessCluster, service: string): Promise<Task[]> => (await c.api<Task[]>('GET', `/v1/tasks?service=${service}`)).json;
const service = async (c: ProcessCluster, name: string): Promise<Service> => (await c.api<Service>('GET', `/v1/services/${name}`)).json;
const events = async (c: ProcessCluster): Promise<Event[]> => (await c.api<Event[]>('GET', '/v1/events?since=0')).json;
const findNode = (n: TreeNode, path: RegExp): TreeNode | undefined => (path.test(n.path) ? n : (n.children ?? []).map((c) => findNode(c, path)).find(Boolean));
/** The task folders (`<data>/tasks/<task>-gN`) on every worker of `c`. */
async function taskDirs(c: ProcessCluster): Promise<string[]> {
  const all = await Promise.all(c.workers.map((w) => readdir(join(w.dataDir, 'tasks')).catch(() => [] as string[])));
  return all.flat();
}
const nodeNames = async (c: ProcessCluster): Promise<Map<string, string>> => new Map((await c.api<Node[]>('GET', '/v1/nodes')).json.map((n) => [n.id, n.name]));

test.serial('a command that exists nowhere: backoff, why, other nodes, alert and degraded past the budget; running once a node with it joins', async (t) => {
  const c = await cluster(['a', 'b']);
  const ghost = `goat-ghost-${RUN}`;
  // Default reschedule settings: 1 s, 2 s, 4 s … between generations.
  t.is((await c.api('PUT', '/v1/services/ghost', { task: { command: [ghost] } })).status, 201);
  // A small budget: 2 failures within the window, then degraded, re-placed every 1.5 s.
  t.is((await c.api('PUT', '/v1/services/ghost2', { task: { command: [`${ghost}-2`] }, reschedule: { initialMs: 300, maxMs: 1_500, maxAttempts: 2 } })).status, 201);
  const started = Date.now();

  const alert = await eventually('an alert for ghost2', async () => (await events(c)).find((e) => e.type === 'alert' && e.subject === 'ghost2'), 15_000, 200);
  t.is(alert.data['service'], 'ghost2');
  t.regex(String(alert.data['error']), /not found on this node/);
  t.truthy(alert.data['node']);
  const degraded = await service(c, 'ghost2');
  t.is(degraded.status.state, 'degraded');
  t.regex(degraded.status.reason ?? '', /slot 0 is past its reschedule budget/);
  const servicesCli = await c.cli('services');
  t.regex(servicesCli.stdout, /ghost2\s+degraded: slot 0/);
  t.true((await events(c)).some((e) => e.type === 'service.degraded' && e.subject === 'ghost2'));

  await sleep(Math.max(0, started + 10_000 - Date.now()));
  const history = await tasks(c, 'ghost');
  // Generations created in the first 10 s (the test may read later: it waited for ghost2's alert first).
  const generations = Math.max(...history.filter((x) => (x as unknown as { createdAt: number }).createdAt <= started + 10_000).map((x) => x.generation));
  const timeline = history.map((x) => `g${x.generation} ${x.state} +${Math.round((((x as unknown as { createdAt: number }).createdAt) - started) / 100) / 10}s`).join(', ');
  t.true(generations <= 5, `at most 5 generations in 10 s, got ${generations}: ${timeline}`);
  t.true(generations >= 3, `but it keeps trying: ${generations}`);
  const failed = history.filter((x) => x.state === 'failed');
  t.true(failed.length >= 2);
  for (const f of failed) {
    t.is(f.failure?.kind, 'resource', JSON.stringify(f));
    t.regex(f.error?.message ?? '', /executable goat-ghost-.* not found on this node/);
  }
  // The task.state event of a failed task says why too.
  const failedEvent = (await events(c)).find((e) => e.type === 'task.state' && e.subject === failed[0]!.id && e.data['state'] === 'failed');
  t.like(failedEvent?.data, { failure: { kind: 'resource' } }, JSON.stringify(failedEvent));
  t.regex(String((failedEvent?.data['error'] as { message?: string } | undefined)?.message), /executable goat-ghost-.* not found on this node/);
  // And `ps -a`, on a failed row.
  const psAll = (await c.cli('ps', '-a')).stdout;
  t.regex(psAll, /^ghost\.0\.\S+.*\bfailed\b.*not found on this node/m, psAll);
  // Each failure moves the slot to the other node (the node penalty).
  const names = await nodeNames(c);
  const order = failed.sort((x, y) => x.generation - y.generation).map((x) => names.get(x.node!));
  for (let i = 1; i < order.length; i++) t.not(order[i], order[i - 1], `generations alternate nodes: ${order.join(' ')}`);
  t.true((await events(c)).some((e) => e.type === 'slot.backoff' && e.subject === 'ghost/0'));
  // ps says why the slot waits.
  await eventually('ps shows the countdown', async () => /re-placing in \d+ s after \d+ failures? \(last on .*not found on this node/.test((await c.cli('ps')).stdout), 20_000, 300);
  // The tree shows each service's slots with the countdown: /v1/tree (what the REPL's tree() and the inspector read), and `goat-cluster tree`.
  const waiting = await eventually('/v1/tree shows ghost slot 0 waiting', async () => {
    const root = (await c.api<TreeNode>('GET', '/v1/tree')).json;
    const slot = findNode(root, /\/manager\/services\/ghost$/)?.service?.slots.find((x) => x.slot === 0);
    return slot?.state === 'pending' && slot.notBefore !== undefined && /^re-placing in \d+ s after \d+ failures? \(last on .*not found on this node/.test(slot.why ?? '') ? slot : undefined;
  }, 20_000, 200);
  t.true(waiting.failures >= 1);
  const root = (await c.api<TreeNode>('GET', '/v1/tree')).json;
  t.like(findNode(root, /\/manager\/services\/ghost2$/)?.service, { status: 'degraded', replicas: 1 });
  await eventually('goat-cluster tree shows the slots', async () => {
    const out = (await c.cli('tree')).stdout;
    return /ghost2 \[worker\] running service degraded: slot 0 is past its reschedule budget/.test(out) && /^\s+slot 0 {2}… pending {2}gen \d+ {2}.*re-placing in \d+ s after/m.test(out);
  }, 20_000, 300);

  // A node that has the command joins: the degraded service runs again.
  const bin = join(c.dir, 'bin');
  await mkdir(bin, { recursive: true });
  const marker = `${RUN}-ghost2`;
  c.markers.add(marker);
  await writeFile(join(bin, `${ghost}-2`), `#!/bin/sh\nPORT=0 exec "${process.execPath}" "${ECHO_SERVER}" ${marker}\n`);
  await chmod(join(bin, `${ghost}-2`), 0o755);
  c.startWorker('c', { env: { PATH: `${bin}:${process.env['PATH'] ?? ''}` } });
  await eventually('ghost2 running on c, the service running', async () => {
    const [ts, s] = await Promise.all([tasks(c, 'ghost2'), service(c, 'ghost2')]);
    return ts.some((x) => x.state === 'running') && s.status.state === 'running';
  }, 30_000, 200);
  t.true((await events(c)).some((e) => e.type === 'service.running' && e.subject === 'ghost2'));
  t.true((await tasks(c, 'ghost2')).filter((x) => x.state !== 'running').length <= 5 + 1, 'history kept to taskHistory');
});

/** Runs `update` while watching the running count; returns the fewest seen. */
async function fewestRunningDuring(c: ProcessCluster, name: string, change: () => Promise<void>, done: (s: Service) => boolean): Promise<number> {
  let fewest = Infinity;
  let stop = false;
  const watch = (async () => {
    while (!stop) {
      const ts = await tasks(c, name).catch(() => undefined);
      if (ts) fewest = Math.min(fewest, ts.filter((x) => x.state === 'running').length);
      await sleep(50);
    }
  })();
  await change();
  await eventually(`${name} rollout done`, async () => done(await service(c, name)), 90_000, 200);
  stop = true;
  await watch;
  return fewest;
}

test.serial('rollouts of 4 replicas: stop-first keeps 3 running, start-first 4; a crashing spec rolls back by itself; pause says why; nothing left behind', async (t) => {
  const c = await cluster(['a', 'b']);
  const marker = `${RUN}-web`;
  c.markers.add(marker);
  const r = await c.cli('run', 'web', '--command', `node "${ECHO_SERVER}" ${marker}`, '-e', 'PORT=0', '-e', 'V=1', '--replicas', '4', '--wait', '--timeout', '60');
  t.is(r.code, 0, r.stderr);
  const patch = (body: unknown) => c.api('PATCH', '/v1/services/web', body);
  await patch({ update: { monitorMs: 500 } });

  const stopFirst = await fewestRunningDuring(c, 'web', async () => {
    const u = await c.cli('update', 'web', '-e', 'PORT=0', '-e', 'V=2', '--update-parallelism', '1', '--update-order', 'stop-first');
    t.is(u.code, 0, u.stderr);
  }, (s) => s.update?.state === 'completed' && s.spec.task.env['V'] === '2');
  t.true(stopFirst >= 3, `stop-first: never fewer than 3 running, saw ${stopFirst}`);
  await eventually('after the rollout, a task folder only for each of the 4 live tasks', async () => (await taskDirs(c)).length === 4, 30_000, 300);
  t.true((await events(c)).some((e) => e.type === 'update.completed' && e.subject === 'web'));

  const startFirst = await fewestRunningDuring(c, 'web', async () => {
    const u = await c.cli('update', 'web', '-e', 'PORT=0', '-e', 'V=3', '--update-order', 'start-first');
    t.is(u.code, 0, u.stderr);
  }, (s) => s.update?.state === 'completed' && s.spec.task.env['V'] === '3');
  t.true(startFirst >= 4, `start-first: never fewer than 4 running, saw ${startFirst}`);

  // A spec that crashes at once, with failureAction rollback: back to V=3 by itself.
  const crash = await c.cli('update', 'web', '--command', `node -e process.exit(3) ${marker}`, '--update-failure-action', 'rollback', '--update-order', 'stop-first');
  t.is(crash.code, 0, crash.stderr);
  const back = await eventually('rolled back', async () => {
    const s = await service(c, 'web');
    return s.update?.state === 'rolled_back' ? s : undefined;
  }, 90_000, 200);
  t.is(back.spec.task.env['V'], '3');
  await eventually('4 running the old spec', async () => (await tasks(c, 'web')).filter((x) => x.state === 'running' && x.desired === 'running').length === 4, 60_000, 200);
  t.is((await events(c)).filter((e) => e.type === 'update.rollback' && e.subject === 'web').length, 1, 'one update.rollback event for the automatic rollback');

  // The same with pause: the rollout stops and says why.
  const pause = await c.cli('update', 'web', '--command', `node -e process.exit(4) ${marker}`, '--update-failure-action', 'pause', '--update-order', 'stop-first');
  t.is(pause.code, 0, pause.stderr);
  const paused = await eventually('paused', async () => {
    const s = await service(c, 'web');
    return s.update?.state === 'paused' ? s : undefined;
  }, 60_000, 200);
  t.regex(paused.update?.message ?? '', /^update paused: \d+ of \d+ new tasks? failed .*exited with code 4/);
  t.regex((await c.cli('services')).stdout, /paused: update paused/);
  t.true((await tasks(c, 'web')).filter((x) => x.state === 'running').length >= 3, 'the other slots keep the old spec running');
  // Rollback by hand, then a second one has nothing to go back to.
  t.is((await c.cli('rollback', 'web')).code, 0);
  const again = await c.api<{ error: { code: string } }>('POST', '/v1/services/web/rollback');
  t.is(again.status, 409);
  t.is(again.json.error.code, 'GOAT_ERR_NO_PREVIOUS_SPEC');
  await eventually('rolled back by hand', async () => (await service(c, 'web')).update?.state === 'rolled_back', 60_000, 200);

  // Scaled down, then stopped on purpose: no process directories left behind on the workers.
  t.is((await c.cli('scale', 'web', '2')).code, 0);
  await eventually('after the scale-down, a task folder only for each of the 2 live tasks', async () => {
    const [dirs, ts] = await Promise.all([taskDirs(c), tasks(c, 'web')]);
    return dirs.length === 2 && ts.filter((x) => x.state === 'running' && x.desired === 'running').length === 2;
  }, 30_000, 300).catch(async (err: Error) => t.fail(`${err.message}: ${(await taskDirs(c)).join(' ')}`));
  t.is((await c.cli('stop', 'web')).code, 0);
  await eventually('no task process records or folders left', async () => {
    for (const w of c.workers) if ((await processRecords(w.dataDir)).length > 0) return false;
    return (await taskDirs(c)).length === 0;
  }, 30_000, 300);
  const ps = await c.cli('ps');
  t.notRegex(ps.stdout, /\bweb\./, 'ps without -a shows no tasks of a deleted service');
});

test.serial('with a health check, a new task counts as updated only once healthy for monitorMs; one that never passes rolls back (failureAction rollback)', async (t) => {
  const c = await cluster(['a']);
  const marker = `${RUN}-hc`;
  c.markers.add(marker);
  const r = await c.cli('run', 'hc', '--command', `node "${ECHO_SERVER}" ${marker}`, '-e', 'PORT=0', '--replicas', '2', '--wait', '--timeout', '60');
  t.is(r.code, 0, r.stderr);
  // The new spec's health check passes once this file exists; until then it fails, but never enough to be a verdict.
  const flag = join(c.dir, `hc-healthy-${nanoid(6)}`);
  const patchedAt = Date.now();
  const patched = await c.api('PATCH', '/v1/services/hc', {
    task: { env: { PORT: '0', V: '2' }, health: { exec: ['sh', '-c', `test -e "${flag}"`], intervalMs: 100, retries: 100_000, startPeriodMs: 0 } },
    update: { parallelism: 1, monitorMs: 300, failureAction: 'pause' },
  });
  t.is(patched.status, 200);
  const first = await eventually('the first new task running', async () => {
    const ts = (await tasks(c, 'hc')).filter((x) => x.state === 'running' && x.desired === 'running' && (x as unknown as { createdAt: number }).createdAt >= patchedAt);
    return ts.length === 1 ? ts[0] : undefined;
  }, 30_000, 100);
  // Running for many monitor periods but not healthy: not updated, so the next slot is not replaced.
  await sleep(3_000);
  const meanwhile = await tasks(c, 'hc');
  t.is(meanwhile.filter((x) => (x as unknown as { createdAt: number }).createdAt >= patchedAt).length, 1, `only the first slot is being updated: ${meanwhile.map((x) => `${x.slot}g${x.generation} ${x.state}`).join(', ')}`);
  t.like(meanwhile.find((x) => x.id === first.id), { state: 'running', restarts: 0 });
  t.is((await service(c, 'hc')).update?.state, 'updating');
  t.is((meanwhile.find((x) => x.id === first.id) as unknown as { healthySince?: number }).healthySince, undefined);
  // Healthy: each slot is updated after monitorMs, and the rollout completes.
  await writeFile(flag, 'ok');
  await eventually('rollout completed once healthy', async () => (await service(c, 'hc')).update?.state === 'completed', 60_000, 200);
  const done = (await tasks(c, 'hc')).filter((x) => x.state === 'running' && x.desired === 'running');
  t.is(done.length, 2);
  for (const x of done) t.true(typeof (x as unknown as { healthySince?: number }).healthySince === 'number', `${x.id} healthy`);

  // A health check that never passes, with a verdict (2 failures): a failure of the update, rolled back by itself.
  const bad = await c.api('PATCH', '/v1/services/hc', {
    task: { env: { PORT: '0', V: '3' }, health: { exec: ['false'], intervalMs: 100, retries: 2, startPeriodMs: 0 } },
    update: { parallelism: 1, monitorMs: 5_000, failureAction: 'rollback' },
  });
  t.is(bad.status, 200);
  const back = await eventually('rolled back', async () => {
    const s = await service(c, 'hc');
    return s.update?.state === 'rolled_back' ? s : undefined;
  }, 60_000, 200);
  t.is(back.spec.task.env['V'], '2');
  const rollback = (await events(c)).filter((e) => e.type === 'update.rollback' && e.subject === 'hc');
  t.is(rollback.length, 1, 'one update.rollback event');
  t.regex(String(rollback[0]?.data['message']), /health checks? failed/);
  await eventually('2 running the healthy spec', async () => (await tasks(c, 'hc')).filter((x) => x.state === 'running' && x.desired === 'running').length === 2, 60_000, 200);
});

test.serial('a manager kill -9 mid-rollout, restarted: the rollout finishes and no updated task is restarted', async (t) => {
  const c = await cluster(['a', 'b']);
  const marker = `${RUN}-roll`;
  c.markers.add(marker);
  const r = await c.cli('run', 'roll', '--command', `node "${ECHO_SERVER}" ${marker}`, '-e', 'PORT=0', '--replicas', '4', '--wait', '--timeout', '60');
  t.is(r.code, 0, r.stderr);
  const patchedAt = Date.now();
  t.is((await c.api('PATCH', '/v1/services/roll', { task: { env: { PORT: '0', V: '2' } }, update: { monitorMs: 2_000 } })).status, 200);
  // Once two slots are updated, kill the manager.
  const updatedBefore = await eventually('two slots updated', async () => {
    const ts = (await tasks(c, 'roll')).filter((x) => x.state === 'running' && x.desired === 'running' && (x as unknown as { createdAt: number }).createdAt >= patchedAt);
    return ts.length >= 2 ? ts : undefined;
  }, 60_000, 100);
  await c.manager.kill9();
  await c.startManager();
  const done = await eventually('rollout completed after the restart', async () => {
    const s = await service(c, 'roll').catch(() => undefined);
    return s?.update?.state === 'completed' ? s : undefined;
  }, 90_000, 200).catch(async (err: Error) => {
    // Seen once in CI before timers that fire early were handled (session 6): say where the rollout stood, should it fail.
    const s = await service(c, 'roll').catch(() => undefined);
    const ts = await tasks(c, 'roll').catch(() => []);
    const rows = ts.map((x) => `${x.slot}g${x.generation} ${x.state}/${x.desired} on ${x.node ?? '-'} created ${(x as unknown as { createdAt: number }).createdAt - patchedAt} ms after the PATCH, running since ${String((x as unknown as { runningSince?: number }).runningSince)}`);
    throw new Error(`${err.message}\nupdate: ${JSON.stringify(s?.update)}\ntasks:\n${rows.join('\n')}\nmanager output:\n${c.manager.output.slice(-4_000)}`);
  });
  t.is(done.update?.state, 'completed');
  const after = await tasks(c, 'roll');
  for (const u of updatedBefore) {
    const same = after.find((x) => x.id === u.id);
    t.is(same?.state, 'running', `${u.id} still running`);
    t.is(same?.restarts, 0);
  }
  t.is(after.filter((x) => x.state === 'running' && x.desired === 'running').length, 4);
});
