import test from 'ava';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { coalescingSockets, MAX_COALESCED_BYTES } from '../../transport/coalesce.js';
import { closeSocket, sendText } from '../../transport/socket.js';

/** A WebSocket pair on loopback: `client` → `server` (the server's end records every message). */
async function pair(): Promise<{ client: WebSocket; server: WebSocket; received: string[]; http: Server; stop: () => Promise<void> }> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const received: string[] = [];
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', (ws) => {
    ws.on('message', (d) => received.push(d.toString()));
    resolve(ws);
  }));
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`, { perMessageDeflate: false });
  await once(client, 'open');
  const server = await accepted;
  const stop = async (): Promise<void> => {
    client.terminate();
    server.terminate();
    wss.close();
    await new Promise((r) => http.close(r));
  };
  return { client, server, received, http, stop };
}

const tcp = (ws: WebSocket): Socket => (ws as unknown as { _socket: Socket })._socket;

test('messages sent in one turn leave in one write, each its own message, in order', async (t) => {
  const p = await pair();
  t.teardown(p.stop);
  const socket = tcp(p.client);
  const before = socket.bytesWritten;
  for (let i = 0; i < 50; i++) t.true(sendText(p.client, JSON.stringify({ i })));
  t.is(socket.writableCorked, 1, 'held back until the end of the turn');
  t.true(socket.writableLength > 0);
  t.is(coalescingSockets() >= 1, true);
  await new Promise((r) => setImmediate(r));
  t.is(socket.writableCorked, 0, 'flushed at the end of the turn');
  t.true(socket.bytesWritten > before);
  while (p.received.length < 50) await once(p.server, 'message');
  t.deepEqual(p.received, Array.from({ length: 50 }, (_, i) => JSON.stringify({ i })));
});

test('a burst past the bound is written at once, not held for the turn', async (t) => {
  const p = await pair();
  t.teardown(p.stop);
  const socket = tcp(p.client);
  sendText(p.client, 'small');
  t.is(socket.writableCorked, 1);
  sendText(p.client, 'x'.repeat(MAX_COALESCED_BYTES));
  t.is(socket.writableCorked, 0, 'flushed as soon as the bound was passed');
  sendText(p.client, 'after');
  t.is(socket.writableCorked, 1, 'the next message starts a new batch');
  while (p.received.length < 3) await once(p.server, 'message');
  t.deepEqual(p.received.map((m) => m.slice(0, 5)), ['small', 'xxxxx', 'after']);
});

test('closing right after sending loses nothing: the held messages go before the close frame', async (t) => {
  const p = await pair();
  t.teardown(p.stop);
  const closed = once(p.server, 'close');
  for (let i = 0; i < 10; i++) sendText(p.client, `m${i}`);
  closeSocket(p.client, 1000, 'bye');
  const [code] = await closed;
  t.is(code, 1000);
  t.deepEqual(p.received, Array.from({ length: 10 }, (_, i) => `m${i}`));
});

test('nothing is sent, or corked, on a socket that is not open', async (t) => {
  const p = await pair();
  t.teardown(p.stop);
  p.client.close();
  t.false(sendText(p.client, 'late'));
  t.is(tcp(p.client).writableCorked, 0);
});
