/**
 * `fetch` for the manager's API that can trust a private CA (`--tls-ca`):
 * https:// URLs go through node:https with that CA (Node's built-in fetch
 * takes no CA), everything else through the built-in fetch. A certificate
 * the client does not trust becomes GOAT_ERR_TLS_UNTRUSTED naming the URL.
 */
import { request } from 'node:https';
import { Readable } from 'node:stream';
import { untrustedError } from './tls.js';

/** What a client of the manager trusts. */
export interface TlsClientOptions {
  /** CA certificate(s), PEM, trusted for https:// and wss:// besides the system's. @default the system's CAs */
  ca?: string | Buffer | undefined;
}

/** `fetch(url, init)`, with `tls.ca` trusted for https:// URLs; rejects with GOAT_ERR_TLS_UNTRUSTED on a refused certificate. */
export async function goatFetch(url: URL | string, init: RequestInit = {}, tls: TlsClientOptions = {}): Promise<Response> {
  const u = new URL(url);
  if (u.protocol !== 'https:' || tls.ca === undefined) {
    try {
      return await fetch(u, init);
    } catch (err) {
      throw untrustedError(u.origin, err) ?? err;
    }
  }
  return new Promise<Response>((resolve, reject) => {
    const headers = new Headers(init.headers);
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    if (body !== undefined) headers.set('content-length', String(Buffer.byteLength(body)));
    const req = request(u, {
      method: init.method ?? 'GET',
      headers: Object.fromEntries(headers.entries()),
      ca: [tls.ca!],
      ...(init.signal ? { signal: init.signal } : {}),
    }, (res) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (Array.isArray(v)) for (const x of v) h.append(k, x);
        else if (v !== undefined) h.set(k, v);
      }
      const status = res.statusCode ?? 500;
      const noBody = status === 204 || status === 304 || (init.method ?? 'GET') === 'HEAD';
      if (noBody) res.resume();
      resolve(new Response(noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? '', headers: h }));
    });
    req.on('error', (err) => reject(untrustedError(u.origin, err) ?? Object.assign(new TypeError('fetch failed'), { cause: err })));
    req.end(body);
  });
}
