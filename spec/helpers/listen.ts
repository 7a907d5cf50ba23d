/** A server of a test on an ephemeral loopback port, closed (its sockets destroyed) at teardown. */
import type { AddressInfo, Server, Socket } from 'node:net';

/** Listens on 127.0.0.1:0; returns `http://127.0.0.1:PORT`. The connections are tracked in `sockets` and destroyed at teardown. */
export async function listen(t: { teardown: (fn: () => Promise<void>) => void }, server: Server, sockets: Set<Socket> = new Set()): Promise<string> {
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
