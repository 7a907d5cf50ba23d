/**
 * The bash completion script in a real shell (tmux): loaded with `source
 * <(goat-cluster completion bash)`, `goat-cluster sc<Tab>` completes to
 * `scale`, `goat-cluster logs --fo<Tab>` to `--follow`, and with a manager
 * process running (GOAT_MANAGER, GOAT_TOKEN_FILE), `goat-cluster scale <Tab>`
 * to the name of its service. Skipped (with a message) without tmux; under
 * CI=true it fails instead.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nanoid } from 'nanoid';
import { CLI, ProcessCluster } from '../helpers/cli-process.js';
import { TMUX, requires } from '../helpers/requires.js';
import { freePort } from '../runtime/helpers/net.js';
import { eventually } from '../runtime/helpers/wait.js';

const run = promisify(execFile);

const tmuxTests = requires(TMUX);
let c: ProcessCluster | undefined;
const SERVICE = `compl${nanoid(8).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;

if (tmuxTests.met) {
  test.before(async () => {
    c = await ProcessCluster.create(await freePort(), `completion-token-${nanoid(12)}`);
    await c.startManager();
    const r = await c.cli('run', SERVICE, '--image', 'goat/echo');
    if (r.code !== 0) throw new Error(r.stderr);
  });
  test.after.always(async () => c?.cleanup());
}

tmuxTests.serial('bash: goat-cluster sc<Tab> completes to scale; options complete too; scale <Tab> completes a service of the running manager', async (t) => {
  t.timeout(90_000);
  const dir = await mkdtemp(join(tmpdir(), 'goat-completion-'));
  const bin = join(dir, 'goat-cluster');
  await writeFile(bin, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  await chmod(bin, 0o755);
  const socket = `goat-compl-${process.pid}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GOAT_') && k !== 'TMUX'));
  const tmux = async (...args: string[]): Promise<string> => (await run('tmux', ['-L', socket, ...args], { env })).stdout;
  t.teardown(async () => {
    await tmux('kill-server').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, c!.token);
  await tmux('new-session', '-d', '-s', 'c', '-x', '120', '-y', '20', `env PATH="${dir}:$PATH" GOAT_MANAGER=${c!.url} GOAT_TOKEN_FILE=${tokenFile} PS1='$ ' bash --norc --noprofile`);
  const screen = (): Promise<string> => tmux('capture-pane', '-p', '-t', 'c');
  const keys = (...k: string[]): Promise<string> => tmux('send-keys', '-t', 'c', ...k);
  await keys('source <(goat-cluster completion bash) && echo loaded', 'Enter');
  await eventually('the script loaded', async () => (await screen()).includes('\nloaded'), 60_000, 200);
  await keys('goat-cluster sc', 'Tab');
  await eventually('sc<Tab> completed', async () => /\$ goat-cluster scale\s*$/m.test(await screen()), 20_000, 200);
  await keys('C-u', 'goat-cluster logs --fo', 'Tab');
  await eventually('--fo<Tab> completed', async () => /\$ goat-cluster logs --follow\s*$/m.test(await screen()), 20_000, 200);
  await keys('C-u', 'goat-cluster scale ', 'Tab');
  await eventually('scale <Tab> completed the service name from the manager', async () => new RegExp(`\\$ goat-cluster scale ${SERVICE}\\s*$`, 'm').test(await screen()), 20_000, 200);
  t.pass();
});
