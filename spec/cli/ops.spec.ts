/**
 * Everyday operations as a new user meets them, against a cluster embedded in
 * this process (createCluster, process runtime) and the real CLI in child
 * processes: `run` on an existing name is refused with a hint (and changes
 * nothing), published ports in `ps`, `activate` after `drain`, `events`
 * shows the newest, per-command help and Goat usage errors, `--token-file`
 * and GOAT_TOKEN_FILE, quiet exits when the reader goes away, `inspect` of
 * each kind, a library `remove()` that resolves once its tasks stopped, and
 * `cluster.logs()`.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCluster, type Cluster } from '../../lib/index.js';
import { commands } from '../../lib/cli/commands.js';
import { commandHelp, HELP } from '../../lib/cli/help.js';
import { CLI, cli, processRecords } from '../helpers/cli-process.js';
import { freePort } from '../runtime/helpers/net.js';
import { ECHO_SERVER, FAULTY_SERVER } from '../runtime/helpers/repo.js';
import { eventually, pidExists } from '../runtime/helpers/wait.js';

const TOKEN = `ops-token-${process.pid}-abcdef`;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
let dir: string;
let cluster: Cluster;
const g = (...args: string[]) => cli([...args, '--manager', cluster.url, '--token', TOKEN]);

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'goat-ops-'));
  cluster = createCluster({
    manager: { listen: '127.0.0.1:0', dataDir: join(dir, 'goat') },
    worker: { runtime: 'process', name: 'local' },
    cluster: { name: `goat-ops-${process.pid}`, token: TOKEN },
  }, { logger: quiet as never, env: {} });
  await cluster.start();
});

test.after.always(async () => {
  for (const s of cluster?.services() ?? []) await cluster.remove(s.name, { timeoutMs: 15_000 }).catch(() => undefined);
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

const running = (service: string, n = 1) => eventually(`${service} running`, () => {
  const ts = cluster.tasks({ service }).filter((t) => t.state === 'running' && t.desired === 'running');
  return ts.length === n ? ts : undefined;
}, 20_000);

test.serial('run on an existing name is refused (409) with a hint to use update, and changes nothing; ps shows published ports', async (t) => {
  const port = await freePort();
  const first = await g('run', 'web', '--command', `node ${ECHO_SERVER}`, '-p', `${port}:${port}`, '-e', `PORT=${port}`);
  t.is(first.code, 0, first.stderr);
  const [task] = await running('web');
  const again = await g('run', 'web', '--command', `node ${ECHO_SERVER}`);
  t.is(again.code, 1);
  t.regex(again.stderr, /service 'web' already exists; change it with `goat-cluster update web …`.*GOAT_ERR_CONFLICT/);
  t.deepEqual(cluster.services().find((s) => s.name === 'web')?.spec.task.ports, [{ host: port, container: port }], 'the spec kept its port');
  const ps = await g('ps');
  t.regex(ps.stdout, /PORTS/);
  t.regex(ps.stdout, new RegExp(`${task!.id}.*running\\s+${port}:${port}`));
  await eventually('ports in --json', async () => JSON.parse((await g('ps', '--json')).stdout)[0].ports?.[0]?.host === port);
});

test.serial('drain then activate: the node takes tasks again (CLI and POST /v1/nodes/:id/activate)', async (t) => {
  const drained = await g('drain', 'local');
  t.regex(drained.stdout, /node local \(.*\) draining/);
  const activated = await g('activate', 'local');
  t.is(activated.code, 0, activated.stderr);
  t.regex(activated.stdout, /node local \(.*\) ready/);
  const node = cluster.nodes()[0]!;
  const res = await fetch(`${cluster.url}/v1/nodes/${node.id}/activate`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  t.is(res.status, 200);
  await running('web');
  t.is((await fetch(`${cluster.url}/v1/nodes/nope/activate`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status, 404);
});

test.serial('events without --since are the newest; with --since they page from there', async (t) => {
  const newest = await (await fetch(`${cluster.url}/v1/events?limit=2`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { seq: number }[];
  const oldest = await (await fetch(`${cluster.url}/v1/events?since=0&limit=2`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { seq: number }[];
  t.deepEqual(oldest.map((e) => e.seq), [1, 2]);
  t.true(newest[1]!.seq > 2 && newest[1]!.seq === newest[0]!.seq + 1);
  const out = await g('events');
  t.regex(out.stdout.trim().split('\n').at(-1)!, new RegExp(`#${newest[1]!.seq} `), 'the CLI ends with the newest event');
  t.is((await g('events', '--since', 'yesterday')).code, 2);
});

test('every command has its own help naming and describing every option; bad numbers are Goat usage errors', async (t) => {
  for (const [name, command] of Object.entries(commands)) {
    if (name.startsWith('__') || !(name in HELP)) continue;
    const help = commandHelp(name, command);
    for (const flag of Object.keys(command.options)) t.regex(help, new RegExp(`--${flag}\\b[^\\n]*\\s{2}\\S`), `${name} --${flag} is described`);
  }
  const run = await cli(['run', '--help']);
  t.is(run.code, 0);
  for (const flag of ['--wait', '--timeout', '--publish', '--token-file']) t.true(run.stdout.includes(flag), flag);
  t.regex((await cli(['ps', '--help'])).stdout, /-a, --all\s+also finished tasks/);
  t.regex((await cli(['events', '--help'])).stdout, /--since WHEN/);
  const neg = await cli(['scale', 'echo', '-1']);
  t.is(neg.code, 2);
  t.regex(neg.stderr, /^goat-cluster scale: scale wants a whole number of replicas, got '-1' \(GOAT_ERR_USAGE\)\nsee: goat-cluster scale --help\n$/);
  const unknown = await cli(['ps', '--frob']);
  t.regex(unknown.stderr, /^goat-cluster ps: unknown option --frob \(GOAT_ERR_USAGE\)/);
  const dash = await cli(['run', 'web', '--image', 'goat/faulty', '--command', '--print 0']);
  t.is(dash.code, 2);
  t.regex(dash.stderr, /^goat-cluster run: the value of --command starts with a dash: write it as --command="-\.\.\." \(GOAT_ERR_USAGE\)/);
});

test.serial('--token-file and GOAT_TOKEN_FILE keep the token off the command line', async (t) => {
  const file = join(dir, 'token');
  await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
  const byFlag = await cli(['services', '--manager', cluster.url, '--token-file', file]);
  t.is(byFlag.code, 0, byFlag.stderr);
  t.regex(byFlag.stdout, /web/);
  const byEnv = await new Promise<number | null>((resolve) => spawn(process.execPath, [CLI, 'services', '--manager', cluster.url], { env: { ...process.env, GOAT_TOKEN_FILE: file }, stdio: 'ignore' }).once('exit', resolve));
  t.is(byEnv, 0);
  const missing = await cli(['services', '--manager', cluster.url, '--token-file', join(dir, 'nope')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /cannot read the token file/);
});

test.serial('a reader that goes away ends a command quietly at its next write (no EPIPE trace)', async (t) => {
  t.timeout(60_000);
  const r = await g('run', 'chatty', '--command', `node ${FAULTY_SERVER} --print 0 --print-every 10`, '-e', 'PORT=0');
  t.is(r.code, 0, r.stderr);
  await running('chatty');
  t.log('chatty running');
  for (const args of [['logs', 'chatty', '-f'], ['logs', 'chatty']]) {
    const child = spawn(process.execPath, [CLI, ...args, '--manager', cluster.url, '--token', TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    t.log(`${args[0]}: first output`);
    child.stdout.destroy(); // `| head -1` exits
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    t.is(code, 0, `${args.join(' ')}: ${stderr}`);
    t.notRegex(stderr, /EPIPE|at /, args.join(' '));
  }
});

test.serial('tree --watch | head: a real pipe; once head has gone, the next change ends the watch quietly (exit 0 under pipefail, no EPIPE trace)', async (t) => {
  t.timeout(60_000);
  const child = spawn('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" tree --watch --manager ${cluster.url} --token ${TOKEN} | head -n 2`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await eventually('head printed the first lines', () => stdout.split('\n').length > 2, 20_000);
  t.regex(stdout, /^--- \d{4}-\d\d-\d\dT/);
  // The watch writes again when the tree changes: a new task actor.
  t.is((await g('scale', 'chatty', '2')).code, 0);
  const code = await exited;
  t.is(code, 0, `the pipeline's status is the watch's own: ${stderr}`);
  t.is(stderr, '', 'nothing on stderr');
  t.is((await g('scale', 'chatty', '1')).code, 0);
});

test.serial('inspect shows a service (spec with defaults, tasks, events), a task (its spec) and a node (its tasks)', async (t) => {
  const svc = JSON.parse((await g('inspect', 'service', 'web', '--json')).stdout);
  t.is(svc.kind, 'service');
  t.is(svc.object.spec.task.restart.policy, 'always', 'defaults filled in');
  t.true(svc.tasks.length >= 1);
  t.true(svc.events.some((e: { type: string }) => e.type === 'service.updated'));
  const taskId = svc.tasks.find((x: { desired: string }) => x.desired === 'running').id;
  const task = JSON.parse((await g('inspect', 'task', taskId, '--json')).stdout);
  t.is(task.object.id, taskId);
  t.truthy(task.object.spec.command, 'the spec it runs');
  t.true(task.events.some((e: { subject: string }) => e.subject === taskId));
  const node = JSON.parse((await g('inspect', 'node', 'local', '--json')).stdout);
  t.is(node.object.name, 'local');
  t.true(node.tasks.some((x: { id: string }) => x.id === taskId));
  const text = await g('inspect', 'service', 'web');
  t.regex(text.stdout, /^service web\n\{/);
  t.regex(text.stdout, /\nevents \(\d+, newest last\):\n/);
  const none = await g('inspect', 'task', 'web.0.nope');
  t.is(none.code, 1);
  t.regex(none.stderr, /GOAT_ERR_NOT_FOUND/);
  t.is((await g('inspect', 'pod', 'x')).code, 2);
});

test.serial('cluster.logs() is an async iterator of a local task\'s lines; remove() resolves once the tasks stopped', async (t) => {
  if (!cluster.services().some((s) => s.name === 'chatty')) {
    await cluster.apply({ name: 'chatty', replicas: 1, task: { command: ['node', FAULTY_SERVER, '--print', '0', '--print-every', '10'], env: { PORT: '0' } } });
  }
  const [task] = await running('chatty');
  const lines = await eventually('5 lines printed', async () => {
    const got: string[] = [];
    for await (const e of cluster.logs(task!.id, { tail: 5 })) if (e.type === 'line') got.push(`${e.stream} ${e.text}`);
    return got.length === 5 ? got : undefined;
  }, 20_000);
  t.true(lines.some((l) => l.startsWith('stdout line ')));
  const followed: string[] = [];
  for await (const e of cluster.logs('chatty', { follow: true, tail: 0 })) {
    if (e.type === 'line') followed.push(e.text);
    if (followed.length === 20) break;
  }
  t.is(followed.length, 20);
  const pids = (await processRecords(join(dir, 'goat', 'worker'))).filter((r) => r.service === 'chatty').map((r) => r.pid);
  t.true(pids.length > 0);
  t.true(await cluster.remove('chatty'));
  t.true(pids.every((pid) => !pidExists(pid)), 'no task process left when remove() resolved');
  t.throws(() => cluster.logs('nosuch'), { message: /no service 'nosuch'/ });
});
