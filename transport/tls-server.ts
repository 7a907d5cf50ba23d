/**
 * The manager's listening server: plain HTTP, or HTTPS when a certificate is
 * given. A TLS port answers plain HTTP (a client given http:// or ws://)
 * with a 400 GOAT_ERR_TLS_REQUIRED that says to use https://, instead of a
 * dropped connection nobody can explain (as Go's net/http does).
 */
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { plaintextRefusal, type TlsServerCredentials } from '../lib/tls.js';

/** The first byte of every TLS record that opens a handshake. */
const TLS_HANDSHAKE = 0x16;

/** An HTTP server, or an HTTPS one when `tls` is given (the same events and methods either way). */
export function createApiServer(handler: RequestListener, tls?: TlsServerCredentials): Server {
  if (!tls) return createHttpServer(handler);
  const server = createHttpsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: 10_000 }, handler) as unknown as Server;
  // The TLS listener is taken off 'connection' and called only for connections that open with a handshake.
  const tlsListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    // A connection that never says anything is not kept: it would hold `close()` open.
    socket.setTimeout(10_000, () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(first); // a TLSSocket made over this socket reads what is buffered first
      if (first[0] === TLS_HANDSHAKE) {
        for (const l of tlsListeners) l.call(server, socket);
      } else {
        // The request is read and dropped (unread input would turn the close into a reset that can lose the answer);
        // the socket is closed once the client ends, or after a second: it must not hold the server's `close()`.
        socket.on('data', () => undefined).on('end', () => socket.destroy());
        socket.resume();
        socket.end(plaintextRefusal());
        socket.setTimeout(1_000, () => socket.destroy());
      }
    });
    socket.on('error', () => undefined); // a client that goes away before its first byte
  });
  return server;
}
