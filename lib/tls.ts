/**
 * TLS for the manager's API and links: the server's certificate and key
 * (`--tls-cert`/`--tls-key`), the CA a client trusts (`--tls-ca`), and the
 * clear errors of both ends — a file that cannot be read, a certificate the
 * client does not trust (naming the URL and the flag that fixes it), plain
 * HTTP sent to a TLS port.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { GoatError } from './errors.js';

/** The manager's certificate and key, as file paths (PEM). */
export interface TlsFiles {
  /** Certificate chain file (PEM): the server's certificate first. */
  cert: string;
  /** Private key file (PEM), unencrypted. */
  key: string;
}

/** A certificate and key read and checked (they belong together). */
export interface TlsServerCredentials {
  cert: Buffer;
  key: Buffer;
}

/** Reads a PEM file; GOAT_ERR_TLS_FILE naming the file and the flag when it cannot be read or is not PEM. */
export function readPem(file: string, what: 'cert' | 'key' | 'ca'): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    throw new GoatError('GOAT_ERR_TLS_FILE', `cannot read the TLS ${label(what)} ${file}: ${(err as Error).message} (--tls-${what})`, { details: { file, field: `tls.${what}` }, cause: err });
  }
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(data.toString('latin1'))) {
    throw new GoatError('GOAT_ERR_TLS_FILE', `the TLS ${label(what)} ${file} is not a PEM file (--tls-${what})`, { details: { file, field: `tls.${what}`, problem: 'not PEM' } });
  }
  return data;
}

/** Reads and checks the manager's certificate and key: both readable PEM, and the key the certificate's. */
export function loadServerTls(files: TlsFiles): TlsServerCredentials {
  const cert = readPem(files.cert, 'cert');
  const key = readPem(files.key, 'key');
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new GoatError('GOAT_ERR_TLS_FILE', `the TLS certificate ${files.cert} and key ${files.key} cannot be used together: ${(err as Error).message}`, { details: { file: files.cert, key: files.key, field: 'tls' }, cause: err });
  }
  return { cert, key };
}

/** The OpenSSL verification failures that mean "this client does not trust that certificate". */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE', 'CERT_REJECTED',
]);

/** The TLS verification code in `err` or its causes, if any. */
function tlsCode(err: unknown): string | undefined {
  for (let e = err, i = 0; e && i < 4; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNTRUSTED.has(code)) return code;
  }
  return undefined;
}

/**
 * A connection error turned into GOAT_ERR_TLS_UNTRUSTED when the server's
 * certificate was refused (naming the URL and saying to pass --tls-ca);
 * undefined for any other error.
 */
export function untrustedError(url: string, err: unknown): GoatError | undefined {
  const code = tlsCode(err);
  if (!code) return undefined;
  let e: unknown = err;
  while ((e as { cause?: unknown }).cause && !(e as { code?: unknown }).code) e = (e as { cause?: unknown }).cause;
  const reason = e instanceof Error ? e.message : String(e);
  const hint = code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
    ? 'give the manager a certificate valid for this name and date'
    : 'pass --tls-ca FILE (or GOAT_TLS_CA) with the CA that signed it';
  return new GoatError('GOAT_ERR_TLS_UNTRUSTED', `the manager at ${url} presents a certificate this client does not trust (${code}: ${reason}): ${hint}`, { details: { url, reason: code }, cause: err });
}

/** The body of the answer to plain HTTP sent to a TLS port. */
export function plaintextRefusal(): string {
  const body = JSON.stringify({ error: { code: 'GOAT_ERR_TLS_REQUIRED', message: 'this manager speaks TLS only: use https:// (wss:// for worker links) and, for a private CA, --tls-ca', details: {} } });
  return `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

function label(what: 'cert' | 'key' | 'ca'): string {
  return what === 'cert' ? 'certificate' : what === 'key' ? 'key' : 'CA certificate';
}
