/**
 * Is a manager alive? A GET of its `/healthz` answered 200 within a short
 * timeout. A paused manager (SIGSTOP, a frozen VM) still accepts the TCP
 * connection and keeps its etcd registration until its lease expires, but
 * never answers: it shows unhealthy. Only liveness is asked (no token is
 * sent), so an https:// manager's certificate is not checked here.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Default time a manager has to answer `/healthz`, ms. */
export const MANAGER_PROBE_TIMEOUT_MS = 500;

/** True when `GET <url>/healthz` answers 200 within `timeoutMs`. Never throws. */
export function probeManager(url: string, timeoutMs = MANAGER_PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL('/healthz', url);
    } catch {
      resolve(false);
      return;
    }
    const https = target.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(target, { method: 'GET', timeout: timeoutMs, agent: false, ...(https ? { rejectUnauthorized: false } : {}) }, (res) => {
      res.resume();
      clearTimeout(timer);
      resolve(res.statusCode === 200);
    });
    // The whole exchange is bounded (the socket timeout alone only counts idle time).
    const timer = setTimeout(() => req.destroy(), timeoutMs);
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    req.end();
  });
}
