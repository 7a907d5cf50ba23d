/**
 * A stand-in Docker engine on a unix socket: answers `/_ping` (or hangs, to
 * play an engine that accepts connections but never answers) and holds
 * `/events` streams open. Stopping it ends those streams, like a daemon
 * going away.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';

/** A fake engine; `start()` (again) to bring it up, `stop()` to take it away. */
export class FakeEngine {
  /** The socket path to give dockerode as `socketPath`. */
  readonly socketPath: string;
  /** Event streams currently open. */
  openStreams = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  /** A fake engine at `<dir>/docker.sock`; `hang` makes it accept connections and never answer. */
  constructor(
    dir: string,
    private readonly hang = false,
  ) {
    this.socketPath = join(dir, 'docker.sock');
  }

  /** Listens on the socket. */
  start(): Promise<void> {
    const server = createServer((req, res) => this.answer(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    return new Promise((resolve) => server.listen(this.socketPath, resolve));
  }

  /** Closes the socket and every connection (the socket file goes too). */
  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    if (this.hang) return;
    const path = (req.url ?? '').split('?')[0];
    if (path === '/_ping') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
    } else if (path === '/events') {
      this.openStreams++;
      res.on('close', () => this.openStreams--);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not faked"}');
    }
  }
}
