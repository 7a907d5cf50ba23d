/**
 * The published types compile for a consumer: the package is packed
 * (`npm pack`, as `npm publish` would), installed into a new project from the
 * tarball (`npm ci --offline` from the npm cache, with a lock file built from
 * this repository's: spec/helpers/consumer-lock.ts), and a program using the
 * public API is type-checked with `skipLibCheck: false` — so every `.d.ts`
 * the package ships, and every type package they reference, must resolve
 * from the package's own dependencies (TS7016 otherwise).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { consumerLock, type Lock } from '../helpers/consumer-lock.js';
import { ROOT } from '../runtime/helpers/repo.js';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const PROGRAM = `
import { createCluster, defineConfig, isGoatError, Manager, Worker, joinCluster, type CreateClusterOptions, type ServiceSpecInput } from 'goat-cluster';

const options: CreateClusterOptions = { env: {} };
const spec: ServiceSpecInput = { name: 'web', replicas: 2, task: { command: ['node', 'server.js'] } };
export async function main(): Promise<void> {
  const cluster = createCluster(defineConfig({ worker: { runtime: 'process' } }), options);
  try {
    await cluster.apply(spec);
  } catch (err) {
    if (isGoatError(err)) console.error(err.code);
  }
  console.log(typeof Manager, typeof Worker, typeof joinCluster);
}
`;

test('a consumer project type-checks against the packed package with skipLibCheck: false', async (t) => {
  t.timeout(300_000);
  const dir = await mkdtemp(join(tmpdir(), 'goat-consumer-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await run(NPM, ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
  const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'))!;
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };
  const repoLock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const app = join(dir, 'app');
  const lock = consumerLock(repoLock, 'consumer', pkg, `../${tarball}`, ['typescript', '@types/node']);
  await run('mkdir', [app]);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: lock.packages['']!.dependencies }, null, 2));
  await writeFile(join(app, 'package-lock.json'), JSON.stringify(lock, null, 2));
  await run(NPM, ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app, timeout: 180_000 });
  await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] },
    include: ['index.ts'],
  }));
  await writeFile(join(app, 'index.ts'), PROGRAM);
  const tsc = await run(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app, timeout: 240_000 }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
  );
  t.is(tsc.out.trim(), '', 'tsc reports nothing');
  t.is(tsc.code, 0);
});
