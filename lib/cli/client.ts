/** The CLI's HTTP client of the manager API: bearer token, JSON, errors as GoatErrors with the API's code. */
import { GoatError, isGoatError, type GoatErrorCode } from '../errors.js';
import { goatFetch } from '../tls-fetch.js';

/** Where the manager is and how to authenticate. */
export interface ClientOptions {
  /** The manager's URL; several comma-separated (HA): tried in order until one answers (a follower forwards to the leader). */
  manager: string;
  token: string | undefined;
  /** CA certificate(s), PEM, trusted for an https:// manager (`--tls-ca`). @default the system's CAs */
  ca?: string | Buffer | undefined;
  /** Told once per call when the answer says it may be stale (`Goat-Stale: true`: no leader right now, HA). */
  onStale?: () => void;
}

/** Calls the API; resolves with the parsed JSON, rejects with a GoatError carrying the API's error code. */
export async function call<T = unknown>(o: ClientOptions, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  let res: Response | undefined;
  const urls = o.manager.split(',').map((u) => u.trim()).filter(Boolean);
  const failures: string[] = [];
  for (const url of urls) {
    try {
      res = await goatFetch(new URL(path, url), {
        method,
        headers: { 'content-type': 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      }, { ca: o.ca });
      break;
    } catch (err) {
      if (isGoatError(err, 'GOAT_ERR_TLS_UNTRUSTED')) throw err; // not a manager that is down: say how to trust it
      failures.push(`${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
    }
  }
  if (!res) throw new GoatError('GOAT_ERR_NOT_READY', `cannot reach the manager at ${failures.join('; ')}`, { temporary: true, details: { manager: o.manager } });
  if (res.headers.get('goat-stale') === 'true') o.onStale?.();
  const text = await res.text();
  const json = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
    throw new GoatError((e?.code ?? 'GOAT_ERR_INTERNAL') as GoatErrorCode, e?.message ?? `HTTP ${res.status}`, { details: { status: res.status, ...(e?.details ?? {}) } });
  }
  return json as T;
}
