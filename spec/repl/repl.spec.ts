/** `goat-cluster repl` in a real terminal (tmux): a message reaches an actor and its reply prints; bad input gets clear errors and the REPL carries on. */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { CLI } from '../helpers/cli-process.js';
import { eventually } from '../runtime/helpers/wait.js';
import { TMUX, requires } from '../helpers/requires.js';
import { managerTree } from '../helpers/tree.js';

const tmux = (...args: string[]): string => execFileSync('tmux', args, { encoding: 'utf8' });

requires(TMUX).test('the REPL answers asks, completes paths, reports bad paths and messages, and survives them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-repl-'));
  const manager = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: 'repl-test-token', logger: { info: () => undefined, warn: () => undefined } });
  const session = `goat-repl-${process.pid}`;
  t.teardown(async () => {
    try {
      tmux('kill-session', '-t', session);
    } catch { /* already gone */ }
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  });
  tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '50', `${process.execPath} ${CLI} repl --manager ${manager.url} --token repl-test-token --history ${join(dir, 'history')}; sleep 30`);
  const screen = (): string => tmux('capture-pane', '-p', '-t', session, '-S', '-200');
  const type = (keys: string): void => void tmux('send-keys', '-t', session, keys, 'Enter');
  await eventually('prompt', () => screen().includes('goat>'), 10_000).catch((err: Error) => {
    throw new Error(`${err.message}; the screen:\n${screen()}`);
  });

  type(`await ask('/cluster/manager/reconciler', { type: '$info' })`);
  await eventually('the actor replied', () => /path: '\/cluster\/manager\/reconciler'/.test(screen()), 5_000);

  type(`await send('/cluster/manager/nope', {})`);
  await eventually('a bad path is an error', () => screen().includes('no actor at /cluster/manager/nope'), 5_000);

  type(`await ask('/cluster/manager/store', { type: 'ping' }, 300)`);
  await eventually('a message the actor does not take is an error', () => /\/cluster\/manager\/store takes no messages from outside/.test(screen()), 5_000);

  type(`await send('/cluster/manager/reconciler', null)`);
  await eventually('a null message is an error', () => /a message is an object with a string type/.test(screen()), 5_000);

  type(`await info('/cluster/manager/nodes')`);
  await eventually('a supervisor answers info', () => /strategy: 'one_for_one'/.test(screen()) && /uptimeMs: \d+/.test(screen()), 5_000);

  type(`await kill('/cluster/manager/scheduler', 'from the repl')`);
  await eventually('kill crashes the actor', () => /killed: '\/cluster\/manager\/scheduler'/.test(screen()), 5_000);
  await eventually('its supervisor restarted it', () => managerTree(manager).children?.find((c) => c.id === 'scheduler')?.status === 'running' && managerTree(manager).children?.find((c) => c.id === 'scheduler')?.restarts === 1, 5_000);

  tmux('send-keys', '-t', session, `await ask('/cluster/manager/sche`, 'Tab');
  await eventually('Tab completes the actor path', () => screen().includes(`await ask('/cluster/manager/scheduler`), 5_000);
  tmux('send-keys', '-t', session, `', { type: '$info' })`, 'Enter');
  await eventually('and it answers', () => /path: '\/cluster\/manager\/scheduler'/.test(screen()), 5_000).catch((err: Error) => {
    throw new Error(`${err.message}; the screen:\n${screen().trimEnd().split('\n').slice(-15).join('\n')}`);
  });

  type('(await tree()).children[0].children.length');
  await eventually('the tree', () => /\n6\n/.test(screen()), 5_000);
  t.is(manager.tree().status, 'running', 'nothing typed crashed the manager');
  t.is(managerTree(manager).children?.find((c) => c.id === 'reconciler')?.restarts, 0, 'not even an actor');
  t.is(managerTree(manager).children?.find((c) => c.id === 'scheduler')?.restarts, 1, 'only the killed one restarted');
});

test('the admin channel refuses a wrong token before anything happens', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-admin-'));
  const manager = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: 'admin-test-token', logger: { info: () => undefined, warn: () => undefined } });
  t.teardown(async () => {
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const { AdminClient } = await import('../../lib/repl/index.js');
  const wrong = new AdminClient(manager.url, 'not-the-token');
  const err = await t.throwsAsync(wrong.opened);
  t.regex(err?.message ?? '', /HTTP 401 \(wrong or missing token\)/);
  const right = new AdminClient(manager.url, 'admin-test-token');
  t.is(((await right.request('tree')) as { path: string }).path, '/cluster');
  const bad = await t.throwsAsync(right.request('frobnicate'));
  t.regex(bad?.message ?? '', /type/);
  right.close();
});
