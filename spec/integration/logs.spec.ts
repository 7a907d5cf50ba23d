/**
 * `goat-cluster logs` against real processes: a `manager` and a remote
 * `worker --runtime process` on loopback, tasks running images/faulty's
 * printer (`--print N --print-every MS`: "line i" on stdout, every 10th also
 * "err i" on stderr). What a user sees: --tail, --since, --follow (lines come
 * as they are printed), stderr marked, a service's lines prefixed with their
 * task ids, a follow that ends with its task, and a task on a node that is
 * down (an error naming the node, at once). The worker's config caps each
 * task's log at 4 KiB × 2 files: the rotated files are read back through
 * `logs`, and no more than 2 files per output are kept.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { CLI, ProcessCluster, killGroup, liveArgv, processRecords } from '../helpers/cli-process.js';
import { freePort } from '../runtime/helpers/net.js';
import { FAULTY_SERVER } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';

const TOKEN = `logs-token-${nanoid(12)}`;
const RUN = `goat-logs-${process.pid}-${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`;
interface Task { id: string; service: string; state: string; desired: string; node: string | null; generation: number }
const CAP = { maxBytes: 4096, maxFiles: 2 };

let c: ProcessCluster;

test.before(async () => {
  c = await ProcessCluster.create(await freePort(), TOKEN);
  await c.startManager();
  const config = join(c.dir, 'logs.config.mjs');
  await writeFile(config, `export default ${JSON.stringify({ worker: { logs: CAP } })};\n`);
  c.startWorker('w1', { args: ['--config', config] });
  await eventually('w1 linked', async () => (await c.api<{ name: string; status: string }[]>('GET', '/v1/nodes')).json.some((n) => n.name === 'w1' && n.status === 'ready'), 20_000);
});

test.after.always(async () => {
  // The printers (their workers may be gone: kill -9 in the last test) are found by their process records.
  for (const w of c?.workers ?? []) {
    for (const r of await processRecords(w.dataDir)) if ((await liveArgv(r.pid))?.includes(FAULTY_SERVER)) killGroup(r.pid);
  }
  await c?.cleanup();
});

/** Runs the printer as service `name` and waits until `replicas` tasks run. */
async function printer(name: string, args: string, replicas = 1, ...extra: string[]): Promise<Task[]> {
  const marker = `${RUN}-${name}`;
  c.markers.add(marker);
  const r = await c.cli('run', name, '--command', `node "${FAULTY_SERVER}" ${args}`, '--replicas', String(replicas), '-e', 'PORT=0', '-e', `GOAT_TEST_MARK=${marker}`, ...extra);
  if (r.code !== 0) throw new Error(r.stderr);
  return eventually(`${name} running`, async () => {
    const ts = (await c.api<Task[]>('GET', `/v1/tasks?service=${name}`)).json.filter((t) => t.state === 'running' && t.desired === 'running');
    return ts.length === replicas ? ts : undefined;
  }, 20_000);
}

test.serial('--tail, --since and --timestamps of a task on a remote worker; stderr is marked', async (t) => {
  const [task] = await printer('tailme', '--print 0 --print-every 20');
  await new Promise((r) => setTimeout(r, 1_500));
  const tail = await c.cli('logs', task!.id, '--tail', '5');
  t.is(tail.code, 0, tail.stderr);
  const lines = tail.stdout.trim().split('\n');
  t.is(lines.length, 5);
  t.true(lines.every((l) => /^(out \| line \d+|err \| err \d+)$/.test(l)), tail.stdout);
  const all = await c.cli('logs', task!.id, '--timestamps');
  t.true(all.stdout.includes('err | err 10'), 'stderr lines are kept and marked');
  const allLines = all.stdout.trim().split('\n');
  const before = Date.now();
  const since = await c.cli('logs', task!.id, '--since', '500ms', '--timestamps');
  const sinceLines = since.stdout.trim().split('\n');
  t.true(sinceLines.length > 0 && sinceLines.length < allLines.length, `--since keeps only the recent lines (${sinceLines.length} of ${allLines.length})`);
  const cut = before - 500; // the CLI computed its --since after `before`
  for (const l of sinceLines) t.true(Date.parse(l.slice(0, 24)) >= cut, l);
  t.regex(allLines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (out|err) \| /);
});

test.serial('--follow shows lines as they are printed, and ends when the task ends', async (t) => {
  t.timeout(120_000);
  const [task] = await printer('followme', '--print 0 --print-every 100 --exit-after 45', 1, '--restart', 'no');
  const child = spawn(process.execPath, [CLI, 'logs', task!.id, '--follow', '--tail', '0', '--manager', c.url, '--token', TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] });
  const seen: { at: number; n: number }[] = [];
  let buffer = '';
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    for (const m of buffer.matchAll(/out \| line (\d+)\n/g)) seen.push({ at: Date.now(), n: Number(m[1]) });
    buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c2) => resolve(c2)));
  t.is(code, 0, `the follow ended by itself when the task ended: ${stderr}`);
  t.true(seen.length >= 5, `followed lines: ${seen.length}`);
  t.true(seen.every((s, i) => i === 0 || s.n === seen[i - 1]!.n + 1), 'in order, none missing');
  t.true(seen[seen.length - 1]!.at - seen[0]!.at >= 1_000, `lines arrived over time, as printed — not all at the end: ${JSON.stringify(seen.map((s) => [s.n, s.at - seen[0]!.at]))}`);
});

test.serial("a service's logs interleave its tasks' lines, each prefixed with its task id", async (t) => {
  const tasks = await printer('pair', '--print 0 --print-every 50', 2);
  await new Promise((r) => setTimeout(r, 1_000));
  const r = await c.cli('logs', 'pair', '--tail', '10');
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  for (const task of tasks) t.true(lines.some((l) => l.startsWith(`${task.id}  out | line `)), `${task.id} in:\n${r.stdout}`);
  t.true(lines.every((l) => tasks.some((task) => l.startsWith(`${task.id}  `))));
  const json = await c.cli('logs', 'pair', '--tail', '2', '--json');
  const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; task: string; stream: string; at: number; text: string });
  t.true(events.every((e) => e.type === 'line' && typeof e.at === 'number' && ['stdout', 'stderr'].includes(e.stream)));
});

test.serial('process logs are rotated at the configured cap, and logs reads back across the rotated files', async (t) => {
  t.timeout(120_000);
  const total = 3000;
  const [task] = await printer('rotate', `--print ${total} --print-every 1`);
  const lines = await eventually('the last line printed', async () => {
    const r = await c.cli('logs', task!.id);
    const ns = [...r.stdout.matchAll(/^out \| line (\d+)$/gm)].map((m) => Number(m[1]));
    return ns[ns.length - 1] === total - 1 ? ns : undefined;
  }, 60_000, 500);
  t.true(lines[0]! > 0, `the oldest lines were rotated away (first kept: line ${lines[0]})`);
  t.true(lines.every((n, j) => j === 0 || n > lines[j - 1]!), 'what is kept reads back in order');
  const folder = join(c.workers[0]!.dataDir, 'tasks', `${task!.id}-g${task!.generation}`);
  const files = (await readdir(folder)).filter((f) => /^std(out|err)\.log(\.\d+)?$/.test(f)).sort();
  t.deepEqual(files.filter((f) => f.startsWith('stdout')), ['stdout.log', 'stdout.log.1'], `at most ${CAP.maxFiles} files per output: ${files.join(' ')}`);
  t.false(files.some((f) => /\.log\.[2-9]$/.test(f)), files.join(' '));
  const current = (await readFile(join(folder, 'stdout.log'), 'utf8')).split('\n').filter((l) => l.startsWith('line ')).length;
  t.true(lines.length > current, `logs read the rotated file too (${lines.length} lines, ${current} in stdout.log)`);
});

test.serial('unknown targets are 404; a task on a node that is down is an error naming the node and when it was last seen, at once', async (t) => {
  const unknown = await c.cli('logs', 'nosuch');
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /no service 'nosuch' \(GOAT_ERR_NOT_FOUND\)/);
  const api = await c.api('GET', '/v1/tasks/nosuch.0.x/logs');
  t.is(api.status, 404);
  const [task] = (await c.api<Task[]>('GET', '/v1/tasks?service=tailme')).json.filter((x) => x.desired === 'running');
  await c.workers[0]!.proc.kill9();
  await eventually('w1 not ready', async () => (await c.api<{ name: string; status: string }[]>('GET', '/v1/nodes')).json.some((n) => n.name === 'w1' && n.status !== 'ready'), 20_000);
  // No hang: a follow of a task on a node that is away ends at once with the error (cli() kills it after 30 s otherwise).
  const r = await c.cli('logs', task!.id, '--follow');
  t.is(r.code, 1);
  t.regex(r.stderr, /runs on node w1 .*last seen \d{4}-\d\d-\d\dT.*GOAT_ERR_NODE_UNREACHABLE/);
});
