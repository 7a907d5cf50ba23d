/** `goat-cluster backup` and `restore` on a real store: a backup taken while the manager runs restores into a manager that has the services. */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { cli } from '../helpers/cli-process.js';

const quiet = { info: () => undefined, warn: () => undefined };

test('backup while running, restore elsewhere: the services are back; a bad backup is refused and changes nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-backup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const a = join(dir, 'a');
  const m = await Manager.start({ dataDir: a, listen: '127.0.0.1:0', token: 'backup-token-1', logger: quiet });
  await m.putService({ name: 'kept', replicas: 2, task: { image: 'goat/echo' } });
  const file = join(dir, 'goat.backup');
  const backup = await cli(['backup', file, '--data-dir', a]);
  t.is(backup.code, 0, backup.stderr);
  t.regex(backup.stdout, /backed up .*goat\.db to .*goat\.backup/);
  await m.stop();

  const b = join(dir, 'b');
  const restore = await cli(['restore', file, '--data-dir', b]);
  t.is(restore.code, 0, restore.stderr);
  const m2 = await Manager.start({ dataDir: b, listen: '127.0.0.1:0', token: 'backup-token-1', logger: quiet });
  t.teardown(() => m2.stop());
  t.is(m2.getService('kept')?.spec.replicas, 2);

  const junk = join(dir, 'junk.backup');
  await writeFile(junk, 'not a backup');
  const bad = await cli(['restore', junk, '--data-dir', b]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /GOAT_ERR_STORE_CORRUPT/);
  t.is(m2.getService('kept')?.spec.replicas, 2, 'the store in place is untouched');
});
