/**
 * `goat-cluster tree --watch` in a real pseudo-terminal (tmux): a manager and
 * a worker in this process, the inspector as a child of a shell in a tmux
 * pane; keys are sent and the pane is read as a person would see it.
 * Skipped (with a message) when tmux is missing, except on CI, where it must run.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Manager } from '../../actors/manager/manager.js';
import { joinCluster } from '../../actors/worker/index.js';
import { stripAnsi } from '../../lib/inspector/index.js';
import { CLI } from '../helpers/cli-process.js';
import { eventually } from '../runtime/helpers/wait.js';
import { TMUX, requires } from '../helpers/requires.js';
import { testEnv } from '../helpers/env.js';

const run = promisify(execFile);
const TOKEN = 'inspector-token-123456';
const quiet = { info: () => undefined, warn: () => undefined };

const maybe = requires(TMUX).test;

maybe('tree --watch in a terminal: shows the live tree and nodes, moves, collapses, expands, filters and quits cleanly', async (t) => {
  t.timeout(30_000);
  const dir = await mkdtemp(join(tmpdir(), 'goat-inspector-'));
  const manager = await Manager.start({ dataDir: join(dir, 'manager'), listen: '127.0.0.1:0', token: TOKEN, logger: quiet });
  const worker = await joinCluster({ join: manager.url, token: TOKEN, dataDir: join(dir, 'w0'), name: 'w0', runtime: 'process', cluster: `goat-insp-${process.pid}`, logger: quiet });
  const socket = `goat-insp-${process.pid}`;
  const env = testEnv({ TMUX: undefined });
  const tmux = async (...args: string[]): Promise<string> => (await run('tmux', ['-L', socket, ...args], { env })).stdout;
  t.teardown(async () => {
    await tmux('kill-server').catch(() => undefined);
    await worker.stop().catch(() => undefined);
    await manager.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  await eventually('the worker linked', () => manager.listNodes().some((n) => n.status === 'ready'));
  const nodeId = manager.listNodes()[0]!.id;
  const cliDir = join(dir, 'cli');
  await mkdir(cliDir);
  await writeFile(join(cliDir, 'token'), `${TOKEN}\n`);

  await tmux('new-session', '-d', '-s', 'goat', '-x', '120', '-y', '40', "env PS1='goat$ ' bash --norc --noprofile");
  const screen = (): Promise<string> => tmux('capture-pane', '-p', '-t', 'goat');
  const coloured = (): Promise<string> => tmux('capture-pane', '-p', '-e', '-t', 'goat');
  const keys = (...k: string[]): Promise<string> => tmux('send-keys', '-t', 'goat', ...k);
  const sees = (what: string, test: (s: string) => boolean, timeoutMs = 5_000): Promise<string> =>
    eventually(what, async () => {
      const s = await screen();
      return test(s) ? s : undefined;
    }, timeoutMs, 100).catch(async (e: Error) => {
      throw new Error(`${e.message}\n--- screen:\n${await screen()}`);
    });
  /** The name on the highlighted (inverse) row. */
  const selected = async (): Promise<string | undefined> => {
    const line = (await coloured()).split('\n').find((l) => l.split('\x1b[').some((sgr) => /^(?:[0-9;]*;)?7m/.test(sgr)));
    return line ? /[●◐…◌○✖] (\S+)/.exec(stripAnsi(line))?.[1] : undefined;
  };

  await sees('the shell prompt', (s) => s.includes('goat$'));
  await keys(`${process.execPath} ${CLI} tree --watch --manager ${manager.url} --data-dir ${cliDir}`, 'Enter');
  const first = await sees('the manager tree and the node', (s) => ['manager', 'reconciler', 'scheduler', 'nodes (1)', nodeId, 'w0  ready', 'heartbeat'].every((w) => s.includes(w)));
  t.false(first.includes('goat$'), 'the alternate screen hides the shell');
  t.regex(first, /▾ ● manager {2}running/);
  t.regex(first, new RegExp(`● ${nodeId} {2}running`));
  t.regex(first, /updated .*q quit/);
  t.is(await selected(), 'cluster', 'the top row (the root) starts selected');

  await keys('j');
  await eventually('j moved the selection', async () => (await selected()) === 'manager', 3_000, 100);
  for (let i = 0; i < 10 && (await selected()) !== 'nodes'; i++) {
    await keys('j');
    await new Promise((r) => setTimeout(r, 150));
  }
  t.is(await selected(), 'nodes');
  await keys('h');
  const collapsed = await sees('nodes collapsed', (s) => /▸ ● nodes/.test(s) && !new RegExp(`● ${nodeId}`).test(s));
  t.true(collapsed.includes(`w0  ready`), 'the nodes section still lists the node');
  await keys('l');
  await sees('nodes expanded', (s) => /▾ ● nodes/.test(s) && new RegExp(`● ${nodeId}`).test(s));

  await keys('/');
  await sees('the filter prompt', (s) => s.includes('filter: ▏'));
  await keys('-l', 'sched');
  await sees('the typed filter', (s) => s.includes('filter: sched▏'));
  await keys('Enter');
  const filtered = await sees('only matches and their ancestors', (s) => s.includes('● scheduler') && !s.includes('● reconciler') && !s.includes('● store'));
  t.regex(filtered, /filter: sched/);
  t.regex(filtered, /▾ ● manager/);
  await keys('/', 'Escape');
  await sees('the filter cleared', (s) => s.includes('● reconciler') && s.includes('● store'));

  await keys('q');
  const after = await sees('the shell again', (s) => s.includes('goat$') && !s.includes('● reconciler'));
  t.regex(after, /goat\$ \S*node .*tree --watch/, 'the command line is back, the inspector screen gone');
  await eventually('the inspector exited', async () => (await tmux('list-panes', '-t', 'goat', '-F', '#{pane_current_command}')).trim() === 'bash', 5_000, 100);
  t.log(first);
});
