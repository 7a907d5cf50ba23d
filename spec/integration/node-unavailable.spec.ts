/**
 * `auto` never widens what a node allows (issue 11): a worker process with
 * `--runtime auto`, no Docker (DOCKER_HOST points nowhere) and no
 * `--allow-process` links, says why it takes no tasks, and the manager shows
 * that reason in `nodes` (API and CLI) and places nothing there.
 */
import test from 'ava';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { spawn } from 'node:child_process';
import { CLI, ProcessCluster, ServerProcess } from '../helpers/cli-process.js';
import { testEnv } from '../helpers/env.js';
import { freePort } from '../runtime/helpers/net.js';
import { eventually } from '../runtime/helpers/wait.js';

const TOKEN = `unavailable-token-${nanoid(12)}`;
interface Node { name: string; status: string; runtime: string; unavailable?: string }
interface Task { service: string; state: string; node: string | null; error: { message: string } | null }

let c: ProcessCluster;
let worker: ServerProcess | undefined;

test.before(async () => {
  c = await ProcessCluster.create(await freePort(), TOKEN);
  await c.startManager();
});

test.after.always(async () => {
  await worker?.kill9();
  await c?.cleanup();
});

test('a node without Docker and without --allow-process takes no tasks and says why, in nodes and the API', async (t) => {
  const name = `nodocker-${nanoid(4).replace(/[^A-Za-z0-9]/g, 'x')}`;
  // Run from the test's own folder: the repository's cluster.config.ts opts in to processes.
  worker = new ServerProcess(name, spawn(process.execPath, [CLI, 'worker', '--join', `ws://127.0.0.1:${c.port}`, '--token', TOKEN, '--data-dir', join(c.dir, name), '--name', name, '--runtime', 'auto'], {
    cwd: c.dir, env: testEnv({ DOCKER_HOST: `unix://${join(c.dir, 'no-docker.sock')}` }), detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  }));
  const node = await eventually('the node to link and say why it takes no tasks', async () => {
    if (!worker!.alive) throw new Error(`worker exited:\n${worker!.output}`);
    return (await c.api<Node[]>('GET', '/v1/nodes')).json.find((n) => n.name === name && n.unavailable !== undefined);
  }, 20_000);
  t.is(node.runtime, 'docker', 'auto did not fall back to processes');
  t.regex(node.unavailable!, /Docker does not answer/);
  t.regex(node.unavailable!, /--allow-process/);
  t.regex(worker.output, /takes no tasks/);
  const table = await c.cli('nodes');
  t.regex(table.stdout, new RegExp(`${name}: takes no tasks: Docker does not answer`));
  // Nothing is placed there: an image task stays pending, saying the node takes no tasks.
  const run = await c.cli('run', 'img', '--image', 'goat/echo');
  t.is(run.code, 0, run.stderr);
  const pending = await eventually('the task pending with a reason', async () => (await c.api<Task[]>('GET', '/v1/tasks?service=img')).json.find((x) => x.state === 'pending' && x.error !== null), 20_000);
  t.is(pending.node, null);
  t.regex(pending.error!.message, /takes no tasks/);
  const events = (await c.api<{ type: string; data: { unavailable?: string } }[]>('GET', '/v1/events?since=0')).json;
  t.false(events.some((e) => e.type === 'task.state' && (e.data as { node?: string }).node !== undefined && (e.data as { state?: string }).state === 'assigned'), 'never assigned');
  await c.cli('stop', 'img');
});
