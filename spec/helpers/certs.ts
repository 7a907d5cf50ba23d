/**
 * Certificates a test makes with the `openssl` command: a CA, a server
 * certificate it signed for 127.0.0.1 and localhost, and a second CA that
 * signed nothing (a client trusting only that one must refuse the server).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirement } from './requires.js';

/** The `openssl` command, for tests that make certificates. */
export const OPENSSL = requirement('openssl', 'install openssl (apt-get install -y openssl)', () => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore', timeout: 5_000 });
    return undefined;
  } catch (err) {
    return `openssl cannot be run: ${(err as Error).message}`;
  }
});

/** Files of a test PKI. */
export interface TestPki {
  dir: string;
  /** The CA that signed the server certificate. */
  ca: string;
  /** The server certificate (127.0.0.1, localhost) and its key. */
  cert: string;
  key: string;
  /** A CA that signed nothing here. */
  otherCa: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

/** Makes a CA, a server certificate for 127.0.0.1/localhost signed by it (1 day), and an unrelated CA. */
export async function makePki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'goat-pki-'));
  const ca = (name: string): void => openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-subj', `/CN=${name}`]);
  ca('ca');
  ca('other-ca');
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=goat-manager']);
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext']);
  return { dir, ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), otherCa: join(dir, 'other-ca.pem') };
}
