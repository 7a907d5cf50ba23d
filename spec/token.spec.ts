import test from 'ava';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveToken } from '../lib/token.js';
import { GoatError } from '../lib/errors.js';

test('an option wins, then GOAT_TOKEN', async (t) => {
  t.deepEqual(await resolveToken({ token: 'from-option', dataDir: '/nonexistent', env: { GOAT_TOKEN: 'from-env-1' } }), { token: 'from-option', source: 'option' });
  t.deepEqual(await resolveToken({ dataDir: '/nonexistent', env: { GOAT_TOKEN: 'from-env-1' } }), { token: 'from-env-1', source: 'env' });
});

test('without either, one is generated into <data-dir>/token with mode 0600, then reused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'goat-token-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const first = await resolveToken({ dataDir: dir, env: {} });
  t.is(first.source, 'generated');
  t.is(first.file, join(dir, 'token'));
  t.true(first.token.length >= 32);
  t.is((await stat(join(dir, 'token'))).mode & 0o777, 0o600);
  t.is((await readFile(join(dir, 'token'), 'utf8')).trim(), first.token);
  const again = await resolveToken({ dataDir: dir, env: {} });
  t.deepEqual(again, { token: first.token, source: 'file', file: join(dir, 'token') });
});

test('a short token is refused with a clear error', async (t) => {
  const err = await t.throwsAsync(resolveToken({ token: 'abc', dataDir: '/x' }), { instanceOf: GoatError });
  t.is(err?.details['field'], 'token');
});
