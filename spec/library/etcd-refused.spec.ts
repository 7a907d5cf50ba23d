/**
 * `createCluster` runs one manager on SQLite in this process: asked for
 * several managers on etcd (`manager.etcd` or GOAT_ETCD) it refuses at once
 * with GOAT_ERR_NOT_IMPLEMENTED naming the way to do it, instead of silently
 * running on SQLite; nothing is created.
 */
import test from 'ava';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCluster, isGoatError } from '../../lib/index.js';

test('createCluster with manager.etcd or GOAT_ETCD is refused with GOAT_ERR_NOT_IMPLEMENTED, and creates nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-lib-etcd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'state');
  const fromConfig = t.throws(() => createCluster({ manager: { dataDir, etcd: { endpoints: ['http://127.0.0.1:2379'] } } }, { env: {} }));
  t.true(isGoatError(fromConfig) && fromConfig.code === 'GOAT_ERR_NOT_IMPLEMENTED', String(fromConfig));
  t.regex(fromConfig?.message ?? '', /manager\.etcd asks for several managers on etcd: run `goat-cluster manager --etcd http:\/\/127\.0\.0\.1:2379`/);
  t.like(isGoatError(fromConfig) ? fromConfig.details : {}, { field: 'manager.etcd', endpoints: ['http://127.0.0.1:2379'] });
  const fromEnv = t.throws(() => createCluster({ manager: { dataDir } }, { env: { GOAT_ETCD: 'http://10.0.0.1:2379,http://10.0.0.2:2379' } }));
  t.true(isGoatError(fromEnv) && fromEnv.code === 'GOAT_ERR_NOT_IMPLEMENTED');
  t.regex(fromEnv?.message ?? '', /manager\.etcd \(GOAT_ETCD\).*--etcd http:\/\/10\.0\.0\.1:2379,http:\/\/10\.0\.0\.2:2379/);
  t.deepEqual(await readdir(dir), [], 'nothing created');
  // Without etcd it is made as before (nothing runs until start()).
  t.notThrows(() => createCluster({ manager: { dataDir } }, { env: {} }));
});
