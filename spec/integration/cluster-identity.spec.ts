/**
 * Cluster identity (issue 11), with real processes: a manager restarted on an
 * empty data dir (a new store, so a new cluster id) meets a worker running
 * tasks of the old cluster. The worker is refused loudly — an error frame
 * GOAT_ERR_FOREIGN_CLUSTER, a log line, a `node.refused` event, the node
 * listed as `refused` with the reason — and its tasks keep running, the same
 * processes. After `goat-cluster adopt NODE` the tasks are taken over as they
 * run (same pids) and their service is back, recreated from their specs.
 */
import test from 'ava';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { admission } from '../../lib/cluster-id.js';
import { openSqliteStore, restoreSqliteStore } from '../../lib/store/index.js';
import { ensureClusterId } from '../../actors/manager/membership.js';
import { ProcessCluster, cli, processRecords, startCli, type ServerProcess } from '../helpers/cli-process.js';
import { freePort } from '../runtime/helpers/net.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually, pidExists } from '../runtime/helpers/wait.js';

const TOKEN = `identity-token-${nanoid(12)}`;
const MARK = `goat-identity-${process.pid}-${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`;
interface Task { id: string; service: string; state: string; desired: string; node: string | null; slot: number }
interface Node { id: string; name: string; status: string; refused?: { reason: string; clusterId: string; tasks: number } }

let c: ProcessCluster;
const extra: ServerProcess[] = [];

test.before(async () => {
  c = await ProcessCluster.create(await freePort(), TOKEN);
  c.markers.add(MARK);
});

test.after.always(async () => {
  await Promise.all(extra.map((p) => p.kill9()));
  await c?.cleanup();
});

test('admission: a worker of no cluster or of this one is admitted; one of another is refused unless adopted', (t) => {
  t.is(admission('c-1', undefined, false), 'admit');
  t.is(admission('c-1', 'c-1', false), 'admit');
  t.is(admission('c-1', 'c-2', false), 'refuse');
  t.is(admission('c-1', 'c-2', true), 'adopt');
});

test('the cluster id is made once and kept in the store; a backup restored elsewhere keeps it, a new store gets another', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-identity-'));
  try {
    const a = openSqliteStore(join(dir, 'a.db'));
    const id = ensureClusterId(a);
    t.regex(id, /^c-[0-9a-f]{16}$/);
    t.is(ensureClusterId(a), id, 'made once');
    await a.backup(join(dir, 'backup.db'));
    a.close();
    const reopened = openSqliteStore(join(dir, 'a.db'));
    t.is(ensureClusterId(reopened), id, 'kept in the file');
    reopened.close();
    await restoreSqliteStore(join(dir, 'backup.db'), join(dir, 'b.db'));
    const restored = openSqliteStore(join(dir, 'b.db'));
    t.is(ensureClusterId(restored), id, 'a restored backup is the same cluster: no adoption needed');
    restored.close();
    const fresh = openSqliteStore(join(dir, 'c.db'));
    t.not(ensureClusterId(fresh), id);
    fresh.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.serial('a manager on an empty data dir refuses a worker of the old cluster and leaves its tasks running; adopt takes them over with the same pids', async (t) => {
  await c.startManager();
  const w = c.startWorker('w1');
  await eventually('w1 ready', async () => (await c.api<Node[]>('GET', '/v1/nodes')).json.some((n) => n.name === 'w1' && n.status === 'ready'), 20_000);
  const run = await c.cli('run', 'web', '--command', `node "${ECHO_SERVER}" ${MARK}`, '-e', 'PORT=0', '--replicas', '2');
  t.is(run.code, 0, run.stderr);
  const before = await eventually('2 tasks running', async () => {
    const ts = (await c.api<Task[]>('GET', '/v1/tasks?service=web')).json.filter((x) => x.state === 'running');
    return ts.length === 2 ? ts : undefined;
  }, 20_000);
  const pidsBefore = (await processRecords(w.dataDir)).filter((r) => before.some((x) => x.id === r.taskId)).map((r) => r.pid).sort();
  t.is(pidsBefore.length, 2);

  // The manager comes back on a new, empty data dir (same port and token): a new store, a new cluster id.
  await c.manager.kill9();
  const fresh = startCli('manager-fresh', ['manager', '--data-dir', join(c.dir, 'manager-fresh'), '--listen', `127.0.0.1:${c.port}`, '--token', TOKEN]);
  extra.push(fresh);
  const refused = await eventually('w1 refused by the fresh manager', async () => {
    if (!fresh.alive) throw new Error(`manager exited:\n${fresh.output}`);
    if ((await c.fetchStatus('/readyz')) !== 200) return undefined;
    return (await c.api<Node[]>('GET', '/v1/nodes')).json.find((n) => n.name === 'w1' && n.status === 'refused');
  }, 20_000);
  t.is(refused.refused?.tasks, 2);
  t.regex(refused.refused!.reason, /belongs to cluster c-[0-9a-f]+/);
  t.regex(refused.refused!.reason, /goat-cluster adopt/);
  // Loudly: the worker says why, the manager logs it, an event records it, `nodes` shows it.
  await eventually('the worker to say it is refused', () => /GOAT_ERR_FOREIGN_CLUSTER|refused by the manager/.test(w.proc.output), 10_000);
  t.regex(fresh.output, /belongs to cluster/);
  const events = (await c.api<{ type: string; subject: string }[]>('GET', '/v1/events?since=0')).json;
  t.true(events.some((e) => e.type === 'node.refused' && e.subject === refused.id));
  const table = await c.cli('nodes');
  t.regex(table.stdout, /w1\s+refused/);
  t.regex(table.stdout, /goat-cluster adopt/);
  // Nothing was stopped: the fresh store knows no tasks, and the same processes still run after more refused hellos.
  t.deepEqual((await c.api<Task[]>('GET', '/v1/tasks')).json, []);
  await eventually('the worker to be refused again (it retries)', () => (w.proc.output.match(/refused: GOAT_ERR_FOREIGN_CLUSTER|4003/g) ?? []).length >= 1, 15_000);
  for (const pid of pidsBefore) t.true(pidExists(pid), `task process ${pid} still runs`);

  // A bad adopt changes nothing.
  const bad = await c.cli('adopt', 'no-such-node');
  t.is(bad.code, 1);
  t.regex(bad.stderr, /GOAT_ERR_NOT_FOUND/);

  // Adopted: the tasks are taken over as they run, and the service is back from their specs.
  const adopt = await c.cli('adopt', 'w1');
  t.is(adopt.code, 0, adopt.stderr);
  const after = await eventually('w1 ready with 2 running tasks', async () => {
    const nodes = (await c.api<Node[]>('GET', '/v1/nodes')).json;
    const ts = (await c.api<Task[]>('GET', '/v1/tasks?service=web')).json.filter((x) => x.state === 'running' && x.desired === 'running');
    return nodes.some((n) => n.name === 'w1' && n.status === 'ready') && ts.length === 2 ? ts : undefined;
  }, 20_000);
  t.deepEqual(after.map((x) => x.id).sort(), before.map((x) => x.id).sort());
  const pidsAfter = (await processRecords(w.dataDir)).filter((r) => after.some((x) => x.id === r.taskId)).map((r) => r.pid).sort();
  t.deepEqual(pidsAfter, pidsBefore, 'the same processes: adopted, not restarted');
  for (const pid of pidsBefore) t.true(pidExists(pid));
  const services = (await c.api<{ name: string; replicas: number }[]>('GET', '/v1/services')).json;
  t.deepEqual(services.map((s) => [s.name, s.replicas]), [['web', 2]]);
  t.true((await c.api<{ type: string }[]>('GET', '/v1/events?since=0')).json.some((e) => e.type === 'node.adopted'));
  // It stays: still the same tasks a little later, each slot once (no duplicate started by the controller).
  const ps = await cli(['ps', '--json', '--manager', c.url, '--token', TOKEN]);
  const listed = JSON.parse(ps.stdout) as Task[];
  t.deepEqual(listed.filter((x) => x.service === 'web').map((x) => x.slot).sort(), [0, 1]);
  await c.cli('stop', 'web');
});
