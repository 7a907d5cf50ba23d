/** `goat-cluster start` with a config file: the services it lists run; a bad config stops it with the file and field named. */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, cli } from '../helpers/cli-process.js';
import { freePort, post } from '../runtime/helpers/net.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';
import { testEnv } from '../helpers/env.js';

test('start applies the config: its echo service answers the seed curl', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-start-'));
  const [api, port] = [await freePort(), await freePort()];
  await writeFile(join(dir, 'cluster.config.ts'), `
    export default {
      manager: { listen: '127.0.0.1:${api}' },
      worker: { runtime: 'process' },
      services: ({ runtime }: { runtime: string }) => [{ name: 'echo', task: { command: ['node', ${JSON.stringify(ECHO_SERVER)}], ports: [{ host: ${port}, container: 7777 }] } }],
    };`);
  const env = testEnv();
  const child = spawn(process.execPath, [CLI, 'start'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const exited = new Promise((r) => child.once('exit', r));
  const g = ['--manager', `http://127.0.0.1:${api}`, '--data-dir', join(dir, '.goat')];
  t.teardown(async () => {
    // The service first, while its worker runs: process tasks outlive their worker on purpose (a restarted worker adopts them).
    await cli(['stop', 'echo', ...g]).catch(() => undefined);
    await eventually('the echo task stopped', async () => {
      const r = await cli(['ps', '--json', ...g]);
      return r.code !== 0 || !(JSON.parse(r.stdout) as Array<{ state: string }>).some((x) => x.state === 'running' || x.state === 'starting');
    }, 20_000).catch(() => undefined);
    child.kill('SIGINT');
    await exited;
    await rm(dir, { recursive: true, force: true });
  });
  await eventually('service created', () => /service echo created from .*cluster\.config\.ts: 1 replica/.test(out), 20_000);
  const body = '{"Msg":"Hello, world!"}';
  t.is((await eventually('echo answers', () => post(port, body).catch(() => undefined), 20_000)).text, body);
  t.regex(out, new RegExp(`manager at http://127\\.0\\.0\\.1:${api}; token in .*\\.goat/token`));
  const ps = await cli(['ps', '--json', ...g]);
  t.like(JSON.parse(ps.stdout)[0], { service: 'echo', state: 'running' });
});

test('start with a bad config exits 1 naming the file and the field', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-badconfig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'goat.config.ts'), `export default { worker: { runtime: 'kubernetes' } };`);
  const r = await cli(['start', '--config', join(dir, 'goat.config.ts')]);
  t.is(r.code, 1);
  t.regex(r.stderr, /goat\.config\.ts: worker\.runtime: .*(auto|docker|process).*\(GOAT_ERR_INVALID_CONFIG\)/);
});
