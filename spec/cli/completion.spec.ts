/**
 * The bash completion script in a real shell (tmux): loaded with `source
 * <(goat-cluster completion bash)`, `goat-cluster sc<Tab>` completes to
 * `scale`, and `goat-cluster logs --fo<Tab>` to `--follow`. Skipped (with a
 * message) without tmux, except on CI.
 */
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI } from '../helpers/cli-process.js';
import { eventually } from '../runtime/helpers/wait.js';

const run = promisify(execFile);

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const available = hasTmux() || process.env['CI'] === 'true';
const maybe = available ? test : test.skip;
if (!available) console.warn('spec/cli/completion: SKIPPED — tmux is not installed (on CI it is required)');

maybe('bash: goat-cluster sc<Tab> completes to scale; options complete too', async (t) => {
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
  await tmux('new-session', '-d', '-s', 'c', '-x', '120', '-y', '20', `env PATH="${dir}:$PATH" PS1='$ ' bash --norc --noprofile`);
  const screen = (): Promise<string> => tmux('capture-pane', '-p', '-t', 'c');
  const keys = (...k: string[]): Promise<string> => tmux('send-keys', '-t', 'c', ...k);
  await keys('source <(goat-cluster completion bash) && echo loaded', 'Enter');
  await eventually('the script loaded', async () => (await screen()).includes('\nloaded'), 60_000, 200);
  await keys('goat-cluster sc', 'Tab');
  await eventually('sc<Tab> completed', async () => /\$ goat-cluster scale\s*$/m.test(await screen()), 20_000, 200);
  await keys('C-u', 'goat-cluster logs --fo', 'Tab');
  await eventually('--fo<Tab> completed', async () => /\$ goat-cluster logs --follow\s*$/m.test(await screen()), 20_000, 200);
  t.pass();
});
