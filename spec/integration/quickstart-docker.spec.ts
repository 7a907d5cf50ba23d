/**
 * The README quickstart on a machine with Docker: `start` (here `--runtime
 * docker` with a config of no services, on an ephemeral port) makes a Docker
 * node. `run web --command "node images/echo/server.js" -e PORT=0` is refused
 * at once, saying why no node can take it and how to fix it, and creates
 * nothing; `run web --image goat/echo -p 7777 --replicas 2 --wait` runs, `ps`
 * shows the published host ports, and the echo answers on them. Skipped
 * without an engine on a dev machine; under CI=true it fails instead.
 */
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { ProcessCluster } from '../helpers/cli-process.js';
import { docker, imageBuilder, removeClusterContainers, requireEngine, runDockerTests } from '../runtime/helpers/docker.js';
import { freePort, post } from '../runtime/helpers/net.js';
import { eventually } from '../runtime/helpers/wait.js';

const TOKEN = `quickstart-token-${nanoid(12)}`;
const CLUSTER = `goat-qs-${process.pid}-${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`;
const serial = runDockerTests ? test.serial : test.serial.skip;
let c: ProcessCluster;

if (runDockerTests) {
  test.before(async () => {
    requireEngine();
    await (await imageBuilder()).buildImages({ docker });
    c = await ProcessCluster.create(await freePort(), TOKEN);
    const config = join(c.dir, 'quickstart.config.mjs');
    await writeFile(config, `export default ${JSON.stringify({ cluster: { name: CLUSTER } })};\n`);
    await c.startManager(30_000, { command: 'start', args: ['--runtime', 'docker', '--config', config] });
    await eventually('the local Docker node ready', async () => (await c.api<{ status: string; runtime: string }[]>('GET', '/v1/nodes')).json.some((n) => n.status === 'ready' && n.runtime === 'docker'), 30_000);
  });
  test.after.always(async () => {
    await c?.cleanup();
    await removeClusterContainers(CLUSTER);
  });
}

serial('run --command on a Docker node is refused at once with why and how to fix it, and creates nothing', async (t) => {
  const r = await c.cli('run', 'web', '--command', 'node images/echo/server.js', '-e', 'PORT=0', '--replicas', '2');
  t.is(r.code, 1);
  t.regex(r.stderr, /^goat-cluster run: no node can run it: a --command without --image runs on process nodes, and every node runs Docker \(local\)\. Run an image with --image I .* \(GOAT_ERR_UNPLACEABLE\)\n$/);
  t.deepEqual(await c.cliJson('services'), [], 'nothing was created');
  const json = await c.cli('run', 'web', '--command', 'node images/echo/server.js', '--json');
  t.is((JSON.parse(json.stderr) as { error: { code: string; details: { nodes: unknown } } }).error.code, 'GOAT_ERR_UNPLACEABLE');
});

serial('run --image goat/echo -p 7777 --replicas 2 --wait runs on the Docker node; ps shows the host ports, and the echo answers on them', async (t) => {
  t.timeout(120_000);
  const r = await c.cli('run', 'web', '--image', 'goat/echo', '-p', '7777', '--replicas', '2', '--wait');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'service web: 2 replica(s), version 1\n');
  const ps = await c.cli('ps');
  const rows = ps.stdout.trim().split('\n').slice(1);
  t.is(rows.length, 2, ps.stdout);
  const ports = rows.map((row) => Number(/\s(\d+):7777\s/.exec(row)?.[1]));
  t.true(ports.every((p) => p > 0), ps.stdout);
  for (const port of ports) t.deepEqual(await post(port, 'hello'), { status: 200, text: 'hello' });
});
