import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../lib/config/index.js';
import { GoatError } from '../../lib/errors.js';
import { ROOT } from '../runtime/helpers/repo.js';

async function tempConfig(t: { teardown(f: () => Promise<void>): void }, body: string, name = 'cluster.config.ts') {
  const dir = await mkdtemp(join(tmpdir(), 'goat-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, name), body);
  return dir;
}

test("the repo's cluster.config.ts runs echo on :7777: a goat/echo container under Docker, the same program as a process otherwise", async (t) => {
  const c = await loadConfig(undefined, {}, ROOT);
  t.is(c.file, join(ROOT, 'cluster.config.ts'));
  t.is(c.manager.listen, '127.0.0.1:7070');
  const [docker] = c.services({ runtime: 'docker' });
  const [proc] = c.services({ runtime: 'process' });
  t.like(docker, { name: 'echo', task: { image: 'goat/echo', ports: [{ host: 7777, container: 7777 }] } });
  t.like(proc, { name: 'echo', task: { command: ['node', 'images/echo/server.js'], ports: [{ host: 7777, container: 7777 }] } });
});

test('without a file the defaults apply; GOAT_* variables override the file', async (t) => {
  const none = await loadConfig(undefined, {}, tmpdir());
  t.is(none.file, null);
  t.deepEqual(none.services({ runtime: 'process' }), []);
  t.is(none.manager.listen, '127.0.0.1:7070');
  const dir = await tempConfig(t, `export default { manager: { listen: '127.0.0.1:9000', dataDir: 'state' }, worker: { runtime: 'docker' } };`);
  const c = await loadConfig(undefined, { GOAT_LISTEN: '0.0.0.0:7171', GOAT_RUNTIME: 'process' }, dir);
  t.is(c.manager.listen, '0.0.0.0:7171');
  t.is(c.worker.runtime, 'process');
  t.is(c.manager.dataDir, join(dir, 'state'));
  t.is(c.worker.dataDir, join(dir, 'state', 'worker'));
});

test('a bad config names the file, the field and what was expected', async (t) => {
  const dir = await tempConfig(t, `export default { manager: { listen: 'seventy-seventy' } };`);
  const err = await t.throwsAsync(loadConfig(undefined, {}, dir), { instanceOf: GoatError });
  t.is(err?.code, 'GOAT_ERR_INVALID_CONFIG');
  t.is(err?.details['file'], join(dir, 'cluster.config.ts'));
  t.is(err?.details['field'], 'manager.listen');
  t.regex(err?.message ?? '', /cluster\.config\.ts: manager\.listen: .*HOST:PORT/);
  const typo = await tempConfig(t, `export default { workers: {} };`);
  t.is((await t.throwsAsync(loadConfig(undefined, {}, typo), { instanceOf: GoatError }))?.details['field'], '(root)');
});

test('worker.allowProcess opts the worker in to processes (off by default); a non-boolean is refused naming the field', async (t) => {
  t.false((await loadConfig(undefined, {}, tmpdir())).worker.allowProcess, 'off without a file');
  const off = await tempConfig(t, `export default { worker: { runtime: 'auto' } };`);
  t.false((await loadConfig(undefined, {}, off)).worker.allowProcess, 'off when not set');
  const on = await tempConfig(t, `export default { worker: { allowProcess: true } };`);
  t.true((await loadConfig(undefined, {}, on)).worker.allowProcess);
  const bad = await tempConfig(t, `export default { worker: { allowProcess: 'yes' } };`);
  const err = await t.throwsAsync(loadConfig(undefined, {}, bad), { instanceOf: GoatError });
  t.is(err?.code, 'GOAT_ERR_INVALID_CONFIG');
  t.is(err?.details['field'], 'worker.allowProcess');
  t.regex(err?.message ?? '', /worker\.allowProcess: .*boolean/);
});

test('a file that does not load, or is missing when named, is a clear error', async (t) => {
  const dir = await tempConfig(t, `export default { manager: { listen: `);
  const err = await t.throwsAsync(loadConfig(undefined, {}, dir), { instanceOf: GoatError });
  t.regex(err?.message ?? '', /cluster\.config\.ts: cannot load it/);
  const missing = await t.throwsAsync(loadConfig('nope.config.ts', {}, dir), { instanceOf: GoatError });
  t.regex(missing?.message ?? '', /nope\.config\.ts: no such file/);
});

test('TypeScript with types loads without a build step', async (t) => {
  const dir = await tempConfig(t, `
    type Replicas = 1 | 2;
    const replicas: Replicas = 2;
    export default { services: [{ name: 'ts', replicas, task: { command: ['node', 'x.js'] } }] };
  `);
  t.like((await loadConfig(undefined, {}, dir)).services({ runtime: 'process' })[0], { name: 'ts', replicas: 2 });
});

test('worker.logs sets the log rotation of both runtimes (defaults 10 MiB × 3); a cap below 1 KiB is refused', async (t) => {
  t.deepEqual((await loadConfig(undefined, {}, tmpdir())).worker.logs, { maxBytes: 10 * 1024 * 1024, maxFiles: 3 });
  const dir = await tempConfig(t, `export default { worker: { logs: { maxBytes: 4096 } } };`);
  t.deepEqual((await loadConfig(undefined, {}, dir)).worker.logs, { maxBytes: 4096, maxFiles: 3 });
  const bad = await tempConfig(t, `export default { worker: { logs: { maxBytes: 10, maxFiles: 2 } } };`);
  const err = await t.throwsAsync(loadConfig(undefined, {}, bad), { instanceOf: GoatError });
  t.is(err?.details['field'], 'worker.logs.maxBytes');
});

test('manager.etcd turns HA on with its defaults; GOAT_ETCD (comma-separated) overrides its endpoints and keeps its other fields; bad endpoints are refused', async (t) => {
  t.is((await loadConfig(undefined, {}, tmpdir())).manager.etcd, null, 'one manager on SQLite by default');
  const env = await loadConfig(undefined, { GOAT_ETCD: ' http://10.0.0.1:2379, http://10.0.0.2:2379 ,' }, tmpdir());
  t.deepEqual(env.manager.etcd, { endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], prefix: 'goat', leaseTtlMs: 3_000 });
  const dir = await tempConfig(t, `export default { manager: { etcd: { endpoints: ['http://127.0.0.1:2379'], prefix: 'prod', leaseTtlMs: 5000 } } };`);
  t.deepEqual((await loadConfig(undefined, {}, dir)).manager.etcd, { endpoints: ['http://127.0.0.1:2379'], prefix: 'prod', leaseTtlMs: 5_000 });
  t.deepEqual((await loadConfig(undefined, { GOAT_ETCD: 'http://etcd-a:2379' }, dir)).manager.etcd, { endpoints: ['http://etcd-a:2379'], prefix: 'prod', leaseTtlMs: 5_000 });
  const defaults = await tempConfig(t, `export default { manager: { etcd: { endpoints: ['http://127.0.0.1:2379'] } } };`);
  t.deepEqual((await loadConfig(undefined, {}, defaults)).manager.etcd, { endpoints: ['http://127.0.0.1:2379'], prefix: 'goat', leaseTtlMs: 3_000 });
  for (const [body, field, expected] of [
    [`{ endpoints: [] }`, 'manager.etcd.endpoints', /at least one endpoint/],
    [`{ endpoints: ['not a url'] }`, 'manager.etcd.endpoints.0', /a URL such as http:\/\/127\.0\.0\.1:2379/],
    [`{ endpoints: ['http://127.0.0.1:2379'], leaseTtlMs: 500 }`, 'manager.etcd.leaseTtlMs', /1000/],
    [`{ endpoints: ['http://127.0.0.1:2379'], prefix: 'a/b' }`, 'manager.etcd.prefix', /letters, digits/],
  ] as const) {
    const bad = await tempConfig(t, `export default { manager: { etcd: ${body} } };`);
    const err = await t.throwsAsync(loadConfig(undefined, {}, bad), { instanceOf: GoatError });
    t.is(err?.code, 'GOAT_ERR_INVALID_CONFIG', body);
    t.is(err?.details['field'], field, body);
    t.regex(err?.message ?? '', expected, body);
  }
  const badEnv = await t.throwsAsync(loadConfig(undefined, { GOAT_ETCD: 'http://ok:2379,not a url' }, tmpdir()), { instanceOf: GoatError });
  t.is(badEnv?.code, 'GOAT_ERR_INVALID_CONFIG');
  t.is(badEnv?.details['field'], 'manager.etcd.endpoints');
  t.regex(badEnv?.message ?? '', /GOAT_ETCD: 'not a url' is not a URL/);
});
