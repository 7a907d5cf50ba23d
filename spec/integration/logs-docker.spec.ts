/**
 * `goat-cluster logs` of Docker tasks, against real processes and the real
 * engine: `start --runtime docker` (a manager and its local worker, node
 * `local`) and a remote `worker --runtime docker` (node `d1`), both with a
 * config that caps each task's log at 8 KiB × 2 files. Tasks run
 * goat/faulty's printer (`--print N --print-every MS`: "line i" on stdout,
 * every 10th also "err i" on stderr). What a user sees, for a task on each
 * node: --tail, --since, --timestamps, --follow (lines come as they are
 * printed, and the follow ends with its task), a service's lines from both
 * nodes prefixed with their task ids, the engine's log rotation set on the
 * containers Goat creates and read back through `logs`, and a task on a node
 * that is down (an error naming the node and when it was last seen, at once).
 * Skipped without an engine on a dev machine; under CI=true it fails instead.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { CLI, ProcessCluster } from '../helpers/cli-process.js';
import { testEnv } from '../helpers/env.js';
import { docker, imageBuilder, removeClusterContainers, requireEngine, runDockerTests } from '../runtime/helpers/docker.js';
import { freePort } from '../runtime/helpers/net.js';
import { eventually } from '../runtime/helpers/wait.js';

const TOKEN = `logs-docker-token-${nanoid(12)}`;
const CLUSTER = `goat-logsd-${process.pid}-${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`;
const CAP = { maxBytes: 8192, maxFiles: 2 };
const FAULTY = 'goat/faulty:latest';
interface Task { id: string; service: string; state: string; desired: string; node: string | null }
interface Node { id: string; name: string; status: string; runtime: string }

const serial = runDockerTests ? test.serial : test.serial.skip;
let c: ProcessCluster;
let nodes: Map<string, string>; // node id → name

if (runDockerTests) {
  test.before(async () => {
    requireEngine();
    await (await imageBuilder()).buildImages({ docker });
    c = await ProcessCluster.create(await freePort(), TOKEN);
    const config = join(c.dir, 'logs.config.mjs');
    await writeFile(config, `export default ${JSON.stringify({ cluster: { name: CLUSTER }, worker: { logs: CAP } })};\n`);
    await c.startManager(30_000, { command: 'start', args: ['--runtime', 'docker', '--config', config] });
    c.startWorker('d1', { runtime: 'docker', args: ['--config', config] });
    const ready = await eventually('local and d1 ready', async () => {
      const ns = (await c.api<Node[]>('GET', '/v1/nodes')).json.filter((n) => n.status === 'ready' && n.runtime === 'docker');
      return ns.length === 2 ? ns : undefined;
    }, 30_000);
    nodes = new Map(ready.map((n) => [n.id, n.name]));
  });
  test.after.always(async () => {
    await c?.cleanup();
    await removeClusterContainers(CLUSTER);
  });
}

/** Runs the printer image as service `name` with `replicas` tasks (one per node: the scorer spreads) and waits until they run. */
async function printer(name: string, args: string, replicas = 2, ...extra: string[]): Promise<Task[]> {
  const r = await c.cli('run', name, '--image', FAULTY, `--command=${args}`, '--replicas', String(replicas), '-e', 'PORT=7777', ...extra);
  if (r.code !== 0) throw new Error(r.stderr);
  return eventually(`${name} running`, async () => {
    const ts = (await c.api<Task[]>('GET', `/v1/tasks?service=${name}`)).json.filter((t) => t.state === 'running' && t.desired === 'running');
    return ts.length === replicas ? ts : undefined;
  }, 30_000);
}

const nodeOf = (t: Task): string => nodes.get(t.node ?? '') ?? '?';

serial('--tail, --since and --timestamps of a Docker task on the local node and on a remote one; stderr is marked', async (t) => {
  t.timeout(180_000);
  const tasks = await printer('dtail', '--print 0 --print-every 20');
  t.deepEqual(tasks.map(nodeOf).sort(), ['d1', 'local'], 'one task on each node');
  await new Promise((r) => setTimeout(r, 1_500));
  for (const task of tasks) {
    const where = `${task.id} on ${nodeOf(task)}`;
    const tail = await c.cli('logs', task.id, '--tail', '5');
    t.is(tail.code, 0, tail.stderr);
    const lines = tail.stdout.trim().split('\n');
    t.is(lines.length, 5, where);
    t.true(lines.every((l) => /^(out \| line \d+|err \| err \d+)$/.test(l)), `${where}: ${tail.stdout}`);
    const all = await c.cli('logs', task.id, '--timestamps');
    t.regex(all.stdout, /Z err \| err \d+0\n/, `${where}: stderr lines are kept and marked`);
    const allLines = all.stdout.trim().split('\n');
    t.regex(allLines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (out|err) \| /);
    const before = Date.now();
    const since = await c.cli('logs', task.id, '--since', '500ms', '--timestamps');
    const sinceLines = since.stdout.trim().split('\n');
    t.true(sinceLines.length > 0 && sinceLines.length < allLines.length, `${where}: --since keeps only the recent lines (${sinceLines.length} of ${allLines.length})`);
    for (const l of sinceLines) t.true(Date.parse(l.slice(0, 24)) >= before - 500, `${where}: ${l}`);
  }
});

serial("a service's logs interleave its tasks' lines from both nodes, each prefixed with its task id", async (t) => {
  const tasks = (await c.api<Task[]>('GET', '/v1/tasks?service=dtail')).json.filter((x) => x.state === 'running');
  const r = await c.cli('logs', 'dtail', '--tail', '10');
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  for (const task of tasks) t.true(lines.some((l) => l.startsWith(`${task.id}  out | line `)), `${task.id} (${nodeOf(task)}) in:\n${r.stdout}`);
  t.true(lines.every((l) => tasks.some((task) => l.startsWith(`${task.id}  `))), r.stdout);
});

serial('--follow shows lines as they are printed on either node, and ends when the task ends', async (t) => {
  t.timeout(120_000);
  const tasks = await printer('dfollow', '--print 0 --print-every 100 --exit-after 8', 2, '--restart', 'no');
  const follow = (task: Task): Promise<{ code: number | null; seen: { at: number; n: number }[]; stderr: string }> => new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'logs', task.id, '--follow', '--tail', '0', '--manager', c.url, '--token', TOKEN], { env: testEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const seen: { at: number; n: number }[] = [];
    let buffer = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      for (const m of buffer.matchAll(/out \| line (\d+)\n/g)) seen.push({ at: Date.now(), n: Number(m[1]) });
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, seen, stderr }));
  });
  const results = await Promise.all(tasks.map(follow));
  for (const [i, { code, seen, stderr }] of results.entries()) {
    const where = `${tasks[i]!.id} on ${nodeOf(tasks[i]!)}`;
    t.is(code, 0, `${where}: the follow ended by itself when the task ended: ${stderr}`);
    t.true(seen.length >= 5, `${where}: followed lines: ${seen.length}`);
    t.true(seen.every((s, j) => j === 0 || s.n === seen[j - 1]!.n + 1), `${where}: in order, none missing`);
    t.true(seen[seen.length - 1]!.at - seen[0]!.at >= 1_000, `${where}: lines arrived over time, as printed — not all at the end: ${JSON.stringify(seen.map((s) => [s.n, s.at - seen[0]!.at]))}`);
  }
});

serial("the engine rotates each container's log at the configured cap (json-file max-size/max-file), and logs reads back what is kept", async (t) => {
  t.timeout(120_000);
  const total = 3000;
  const tasks = await printer('drot', `--print ${total}`, 2);
  for (const task of tasks) {
    const where = `${task.id} on ${nodeOf(task)}`;
    const containers = await docker.listContainers({ all: true, filters: { label: [`goat.task=${task.id}`, `goat.cluster=${CLUSTER}`] } });
    t.is(containers.length, 1, where);
    const info = await docker.getContainer(containers[0]!.Id).inspect();
    t.deepEqual(info.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': String(CAP.maxBytes), 'max-file': String(CAP.maxFiles) } }, where);
    const lines = await eventually(`${where}: the last line printed`, async () => {
      const r = await c.cli('logs', task.id);
      const ns = [...r.stdout.matchAll(/^out \| line (\d+)$/gm)].map((m) => Number(m[1]));
      return ns[ns.length - 1] === total - 1 ? ns : undefined;
    }, 30_000);
    t.true(lines[0]! > 0, `${where}: the oldest lines were rotated away (first kept: line ${lines[0]})`);
    t.true(lines.every((n, j) => j === 0 || n === lines[j - 1]! + 1), `${where}: what is kept reads back in order, none missing inside it`);
    // json-file stores each line as a JSON entry of ~90 bytes here: 2 files of 8 KiB hold a few hundred lines, not 3,000.
    t.true(lines.length < 600, `${where}: ${lines.length} lines kept of ${total}`);
  }
});

serial('a task on a node that is down: an error naming the node and when it was last seen, at once (no hang)', async (t) => {
  t.timeout(120_000);
  const tasks = (await c.api<Task[]>('GET', '/v1/tasks?service=dtail')).json.filter((x) => x.desired === 'running' && x.state === 'running');
  const remote = tasks.find((x) => nodeOf(x) === 'd1');
  t.truthy(remote, JSON.stringify(tasks));
  await c.workers[0]!.proc.kill9();
  await eventually('d1 not ready', async () => (await c.api<Node[]>('GET', '/v1/nodes')).json.some((n) => n.name === 'd1' && n.status !== 'ready'), 20_000);
  const started = Date.now();
  const r = await c.cli('logs', remote!.id, '--follow');
  t.is(r.code, 1);
  t.regex(r.stderr, /runs on node d1 .*last seen \d{4}-\d\d-\d\dT.*GOAT_ERR_NODE_UNREACHABLE/);
  t.true(Date.now() - started < 25_000, 'it did not wait for the node');
  const local = tasks.find((x) => nodeOf(x) === 'local');
  const ok = await c.cli('logs', local!.id, '--tail', '1');
  t.is(ok.code, 0, `the local node's tasks still answer: ${ok.stderr}`);
});
