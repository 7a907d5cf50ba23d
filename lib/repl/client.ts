/** A client of the manager's admin channel (`/v1/admin`): requests answered by id, events pushed. */
import WebSocket from 'ws';
import { GoatError, type GoatErrorCode } from '../errors.js';
import { untrustedError } from '../tls.js';

/** What the admin channel answers. */
type Answer = { re: string | null; ok: true; result: unknown } | { re: string | null; ok: false; error: { code: string; message: string } };

/** One connection to `/v1/admin`. */
export class AdminClient {
  #ws: WebSocket;
  #next = 1;
  readonly #pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #onEvent: ((event: unknown) => void) | null = null;
  readonly opened: Promise<void>;

  /** `ca`: CA certificate(s), PEM, trusted for a wss:// manager (`--tls-ca`). */
  constructor(manager: string, token: string | undefined, ca?: Buffer | string) {
    const url = new URL('/v1/admin', manager.replace(/^http/, 'ws'));
    this.#ws = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, ...(ca === undefined ? {} : { ca: [ca] }) });
    this.opened = new Promise((resolve, reject) => {
      this.#ws.once('open', () => resolve());
      this.#ws.once('unexpected-response', (_req, res) => reject(new GoatError(res.statusCode === 401 ? 'GOAT_ERR_UNAUTHORIZED' : 'GOAT_ERR_NOT_READY', `the manager refused the admin channel: HTTP ${res.statusCode}${res.statusCode === 401 ? ' (wrong or missing token)' : ''}`)));
      this.#ws.once('error', (err) => reject(untrustedError(url.origin.replace(/^ws/, 'http'), err) ?? new GoatError('GOAT_ERR_NOT_READY', `cannot reach the manager at ${manager}: ${err.message}`, { temporary: true })));
    });
    this.opened.catch(() => undefined);
    this.#ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Answer | { type: 'event'; event: unknown };
      if ('type' in frame) return void this.#onEvent?.(frame.event);
      const p = frame.re === null ? undefined : this.#pending.get(frame.re);
      if (!p) return;
      this.#pending.delete(frame.re!);
      if (frame.ok) p.resolve(frame.result);
      else p.reject(new GoatError(frame.error.code as GoatErrorCode, frame.error.message));
    });
    this.#ws.on('close', () => {
      for (const p of this.#pending.values()) p.reject(new GoatError('GOAT_ERR_LINK_CLOSED', 'the admin channel closed'));
      this.#pending.clear();
    });
  }

  /** Sends a request and resolves with its result (rejects with the manager's error). */
  async request(type: string, fields: Record<string, unknown> = {}): Promise<unknown> {
    await this.opened;
    const id = String(this.#next++);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify({ id, type, ...fields }));
    });
  }

  /** Starts receiving the cluster's events. */
  async subscribe(onEvent: (event: unknown) => void): Promise<void> {
    this.#onEvent = onEvent;
    await this.request('subscribe');
  }

  close(): void {
    this.#ws.close();
  }
}
