/**
 * One tree across processes (issue 9): a manager and two workers, each its
 * own `goat-cluster` process on loopback. The README's tree diagram
 * (`cluster → manager → … nodes/<id> → worker → …`) is what
 * `/v1/tree` returns; a remote worker's crash-looping task shows in
 * `tree --watch` in a real terminal (tmux); an ask to a hung remote worker
 * is a timeout error, not a hang.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TreeNode } from '../../lib/supervision/index.js';
import { AdminClient } from '../../lib/repl/index.js';
import { CLI, ProcessCluster } from '../helpers/cli-process.js';
import { TMUX, requires } from '../helpers/requires.js';
import { freePort } from '../runtime/helpers/net.js';
import { ECHO_SERVER, ROOT } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';
import { managerTree } from '../helpers/tree.js';

const run = promisify(execFile);
const TOKEN = 'tree-processes-token';
const MARK = `goat-tree-procs-${process.pid}`;

/** The diagram under "### The supervision tree" as `depth name` lines. */
async function readmeTree(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('### The supervision tree');
  const block = readme.slice(readme.indexOf('```\n', at) + 4, readme.indexOf('\n```', readme.indexOf('```\n', at) + 4));
  return block.split('\n').map((line) => {
    const m = /^((?:[│ ] {2})*)(?:[├└]─ )?(\S+)/.exec(line);
    if (!m) throw new Error(`cannot read the README tree line '${line}'`);
    const depth = line.startsWith('cluster') ? 0 : m[1]!.length / 3 + 1;
    return `${depth} ${m[2]}`;
  });
}

/** `/v1/tree` as `depth name` lines, ids of nodes, tasks and services as the README's placeholders. */
function treeLines(root: TreeNode): string[] {
  const out: string[] = [];
  const walk = (n: TreeNode, depth: number, parent: string | null): void => {
    const name = parent === 'nodes' ? '<nodeId>' : parent === 'tasks' ? '<taskId>' : parent === 'services' ? '<service>' : n.id;
    out.push(`${depth} ${name}`);
    for (const c of n.children ?? []) walk(c, depth + 1, n.id);
  };
  walk(root, 0, null);
  return out;
}

const find = (n: TreeNode, pred: (n: TreeNode) => boolean): TreeNode | undefined => (pred(n) ? n : (n.children ?? []).map((c) => find(c, pred)).find(Boolean));

let c: ProcessCluster;
test.before(async () => {
  c = await ProcessCluster.create(await freePort(), TOKEN);
  c.markers.add(MARK);
  await c.startManager();
  c.startWorker('w1');
  c.startWorker('w2');
  await eventually('two workers ready', async () => ((await c.api<{ status: string }[]>('GET', '/v1/nodes')).json ?? []).filter((n) => n.status === 'ready').length === 2, 20_000);
});
test.after.always(async () => {
  await c?.cleanup();
});

test.serial('the README\'s tree diagram is what /v1/tree returns for one manager, two workers and a 2-replica service', async (t) => {
  const r = await c.cli('run', 'web', '--command', `node "${ECHO_SERVER}" ${MARK}`, '-e', 'PORT=0', '--replicas', '2', '--json');
  t.is(r.code, 0, r.stderr);
  const tree = await eventually('each worker running its task, in the manager\'s tree', async () => {
    const tr = (await c.api<TreeNode>('GET', '/v1/tree')).json;
    const tasks = managerTree(tr).children?.find((x) => x.id === 'nodes')?.children?.map((n) => find(n, (x) => x.id === 'tasks')?.children?.filter((x) => x.status === 'running').length ?? 0) ?? [];
    return tasks.length === 2 && tasks.every((n) => n === 1) ? tr : undefined;
  }, 30_000);
  t.deepEqual(treeLines(tree), await readmeTree());
  await c.cli('stop', 'web');
});

requires(TMUX).serial('a remote worker\'s crash-looping task shows in tree --watch, with its countdown and last error', async (t) => {
  const r = await c.cli('run', 'crashy', '--command', `node -e "process.exit(3)" ${MARK}`, '--restart', 'always', '--json');
  t.is(r.code, 0, r.stderr);
  const socket = `goat-tree-procs-${process.pid}`;
  const tmux = async (...args: string[]): Promise<string> => (await run('tmux', ['-L', socket, ...args])).stdout;
  t.teardown(() => tmux('kill-server').catch(() => undefined));
  await tmux('new-session', '-d', '-s', 'goat', '-x', '200', '-y', '50', `${process.execPath} ${CLI} tree --watch --manager ${c.url} --token ${TOKEN}`);
  const screen = (): Promise<string> => tmux('capture-pane', '-p', '-t', 'goat');
  const seen = await eventually('the remote task restarting with its countdown', async () => {
    const s = await screen();
    return /◐ crashy\.0\.\S+\s+restarting\s+restarts \d+\s+restart in \d+(\.\d)?s\s+✖ exited with code 3/.test(s) ? s : undefined;
  }, 30_000, 200).catch(async (e: Error) => {
    throw new Error(`${e.message}\n--- screen:\n${await screen()}`);
  });
  t.regex(seen, /▾ ● worker\s+running\s+rest_for_one/, 'under its worker');
  t.regex(seen, /● link\s+running/);
  // The worker is a separate process: its tree reached the manager over the link only.
  const nodes = (await c.api<{ id: string; name: string }[]>('GET', '/v1/nodes')).json;
  t.is(nodes.length, 2);
  t.log(seen.split('\n').filter((l) => l.trim()).slice(0, 24).join('\n'));
  await c.cli('stop', 'crashy');
});

test.serial('an ask to a hung remote worker is a timeout error, not a hang; the node then shows its last known tree', async (t) => {
  const w = c.workers.find((x) => x.name === 'w2')!;
  const nodeId = (await c.api<{ id: string; name: string }[]>('GET', '/v1/nodes')).json.find((n) => n.name === 'w2')!.id;
  const client = new AdminClient(c.url, TOKEN);
  t.teardown(() => client.close());
  const path = `/cluster/manager/nodes/${nodeId}/worker/runtime`;
  t.is(((await client.request('ask', { path, message: { type: '$info' } })) as { status: string }).status, 'running');
  process.kill(w.proc.pid, 'SIGSTOP');
  try {
    const started = Date.now();
    const err = await t.throwsAsync(client.request('ask', { path, message: { type: '$info' }, timeoutMs: 500 }));
    t.is((err as { code?: string }).code, 'GOAT_ERR_ASK_TIMEOUT');
    t.true(Date.now() - started < 5_000, 'answered within the timeout and a second for the round trip');
    const stale = await eventually('the hung node\'s last known subtree', async () => {
      const tr = (await c.api<TreeNode>('GET', '/v1/tree')).json;
      return find(tr, (x) => x.path === `/cluster/manager/nodes/${nodeId}/worker` && x.stale !== undefined);
    }, 20_000);
    t.is(stale.stale?.reason, 'last known');
  } finally {
    process.kill(w.proc.pid, 'SIGCONT');
  }
});
