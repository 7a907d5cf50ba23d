/**
 * The cluster token (DESIGN.md "Token"): from `--token`, `GOAT_TOKEN` or the
 * config; else generated on first start into `<data-dir>/token` (mode 0600)
 * and read from there afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GoatError } from './errors.js';

/** Where the token came from. */
export interface ResolvedToken {
  token: string;
  source: 'option' | 'env' | 'file' | 'generated';
  /** The token file, when it lives in one. */
  file?: string;
}

/** Finds (or makes) the cluster token. */
export async function resolveToken(options: { token?: string | undefined; dataDir: string; env?: NodeJS.ProcessEnv }): Promise<ResolvedToken> {
  if (options.token) return { token: check(options.token, 'the token option'), source: 'option' };
  const fromEnv = (options.env ?? process.env)['GOAT_TOKEN'];
  if (fromEnv) return { token: check(fromEnv, 'GOAT_TOKEN'), source: 'env' };
  const file = join(options.dataDir, 'token');
  try {
    return { token: check((await readFile(file, 'utf8')).trim(), file), source: 'file', file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(options.dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, source: 'generated', file };
}

function check(token: string, where: string): string {
  if (token.length < 8 || /\s/.test(token)) {
    throw new GoatError('GOAT_ERR_INVALID_SPEC', `${where}: a token needs at least 8 characters and no spaces`, { details: { field: 'token' } });
  }
  return token;
}
