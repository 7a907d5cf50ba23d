/**
 * Coalescing of link writes: the WebSocket messages sent on one socket during
 * one turn of the event loop leave in one TCP write (one `writev`) instead of
 * one write each. Only the TCP socket under the WebSocket is corked: every
 * message stays its own WebSocket message, validated on its own by the peer,
 * in the order it was sent. Corked bytes count in `ws.bufferedAmount`
 * (backpressure sees them), and a burst is flushed at once past
 * {@link MAX_COALESCED_BYTES}, so the batch stays bounded.
 *
 * Why: in the benchmarks (issue 12) one syscall per frame was the manager's
 * largest single cost after validation; an assign, its ack and its report
 * are three frames per task.
 */
import { Socket } from 'node:net';
import type WebSocket from 'ws';

/** Bytes held back at most on one socket before they are written without waiting for the end of the turn. */
export const MAX_COALESCED_BYTES = 64 * 1024;

/** Sockets corked by {@link coalesceWrites}, waiting for their flush. */
const corked = new Set<Socket>();

/** The TCP socket under `ws`, or undefined (not connected yet, or not a TCP socket: e.g. the simulation's in-memory sockets). */
function tcpSocketOf(ws: WebSocket): Socket | undefined {
  const socket = (ws as unknown as { _socket?: unknown })._socket;
  return socket instanceof Socket ? socket : undefined;
}

/**
 * Call before sending on `ws`: corks its TCP socket until the end of this
 * turn of the event loop (a `setImmediate`), unless it is already corked by
 * this module. Does nothing for a WebSocket without a TCP socket.
 */
export function coalesceWrites(ws: WebSocket): void {
  const socket = tcpSocketOf(ws);
  if (!socket || corked.has(socket) || socket.destroyed) return;
  socket.cork();
  corked.add(socket);
  setImmediate(() => flushSocket(socket));
}

/** Call after sending on `ws`: writes the held bytes at once when they exceed {@link MAX_COALESCED_BYTES}. */
export function boundCoalesced(ws: WebSocket): void {
  const socket = tcpSocketOf(ws);
  if (socket && corked.has(socket) && socket.writableLength >= MAX_COALESCED_BYTES) flushSocket(socket);
}

/** Writes what `ws`'s socket holds back now (before a close, so no frame is lost to a destroy). */
export function flushWrites(ws: WebSocket): void {
  const socket = tcpSocketOf(ws);
  if (socket) flushSocket(socket);
}

function flushSocket(socket: Socket): void {
  if (!corked.delete(socket)) return;
  socket.uncork();
}

/** How many sockets hold bytes back right now (for tests). */
export function coalescingSockets(): number {
  return corked.size;
}
