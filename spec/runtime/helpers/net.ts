/** Network helpers for runtime tests. */
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';

/** A TCP port that was free a moment ago (the OS picked it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A server holding `port` until closed. */
export function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve(server));
  });
}

/** One POST to http://127.0.0.1:port/ with node:http. */
function postOnce(port: number, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('no answer within 2 s')));
    req.end(body);
  });
}

/**
 * POSTs `body` to http://127.0.0.1:port/ and returns status and text,
 * retrying while the server is not up yet. (Not fetch: on Node 20, a fetch
 * whose connection docker-proxy accepts and then resets, as it does before
 * the container listens, never settles and holds nothing open.)
 */
export async function post(port: number, body: string, timeoutMs = 10_000): Promise<{ status: number; text: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await postOnce(port, body);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
