/**
 * Sending on a WebSocket without surprises: frames go out only while the
 * socket is open, closing never throws, and received data becomes text.
 */
import WebSocket, { type RawData } from 'ws';
import { GoatError } from '../lib/errors.js';
import { boundCoalesced, coalesceWrites, flushWrites } from './coalesce.js';
import { encodeFrame, type FrameBodyInput, type FrameType } from './frames.js';

/** Encodes and sends a frame; false when the socket is not open. Throws only for an invalid body (a caller's bug). */
export function sendFrame<T extends FrameType>(ws: WebSocket, type: T, body: FrameBodyInput<T>, options: { id?: string; re?: string } = {}): boolean {
  const text = encodeFrame(type, body, options);
  return sendText(ws, text);
}

/** Sends already encoded text; false when the socket is not open. The messages of one event-loop turn leave in one TCP write (see coalesce.ts). */
export function sendText(ws: WebSocket, text: string): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  coalesceWrites(ws);
  ws.send(text);
  boundCoalesced(ws);
  return true;
}

/** Sends an `error` frame answering `re` with a GoatError's code and message. */
export function sendError(ws: WebSocket, err: GoatError, re?: unknown): boolean {
  const body = { code: err.code, message: err.message.slice(0, 4096) };
  return sendFrame(ws, 'error', body, typeof re === 'string' ? { re } : {});
}

/** Closes gracefully with `code` and a reason (trimmed to the 123 bytes a close frame allows); never throws. */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  try {
    if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) return;
    flushWrites(ws);
    ws.close(code, Buffer.from(reason).subarray(0, 123).toString());
  } catch {
    ws.terminate();
  }
}

/** Text of a received message, or a GoatError for a binary one (links speak text frames). */
export function messageText(data: RawData, isBinary: boolean): string | GoatError {
  if (isBinary) return new GoatError('GOAT_ERR_BAD_FRAME', 'bad frame: binary message; links speak text frames', { details: { field: '(root)', problem: 'binary message' } });
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}
