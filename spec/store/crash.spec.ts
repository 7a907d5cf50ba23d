/**
 * Durability across a hard crash: a child process writes through the store
 * and prints what it committed; it is killed with SIGKILL (no close, no
 * checkpoint: the data is only in the WAL); the store reopens with every
 * write the child reported as committed.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from '../../lib/store/index.js';
import { tempDir } from './helpers.js';

const STORE_MODULE = fileURLToPath(new URL('../../lib/store/index.js', import.meta.url));

const CHILD = `
const { openSqliteStore } = await import(process.argv[1]);
const store = openSqliteStore(process.argv[2]);
store.setMeta('child', 'alive');
console.log('committed');
let i = 0;
setInterval(() => {
  for (let k = 0; k < 5; k++, i++) {
    store.transaction(() => {
      store.setMeta('n', String(i));
      store.appendEvents([{ at: Date.now(), type: 'test', subject: 'e' + i, data: { i } }]);
    });
    console.log('committed ' + i);
  }
}, 1);
`;

test('writes a child process reported committed survive its SIGKILL', async (t) => {
  const file = join(tempDir(t), 'goat.db');
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, STORE_MODULE, file], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let out = '';
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Kill it mid-stream, once it has committed a good number of writes.
      if ((out.match(/committed \d+/g) ?? []).length >= 200) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => reject(new Error(`child exited early: ${stderr}`)));
  });
  t.is(await exited, 'SIGKILL');
  const reported = [...out.matchAll(/committed (\d+)/g)].map((m) => Number(m[1]));
  const last = Math.max(...reported);
  t.true(out.startsWith('committed\n'));
  t.true(existsSync(`${file}-wal`) && statSync(`${file}-wal`).size > 0, 'the killed process left its writes in the WAL');

  const store = openSqliteStore(file);
  t.teardown(() => store.close());
  t.is(store.getMeta('child'), 'alive');
  const n = Number(store.getMeta('n'));
  t.true(n >= last, `meta n = ${n}, child reported ${last} committed`);
  // Each transaction wrote meta and its event together: the log matches the counter.
  t.is(store.lastEventSeq(), n + 1);
  t.deepEqual(store.eventsSince(last).map((e) => e.subject)[0], `e${last}`);
});
