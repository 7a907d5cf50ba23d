/**
 * Helpers of the transport tests: a real http.Server on port 0 with a link
 * server attached, and a raw WebSocket peer that records the frames it gets.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame, type Frame, type FrameBodyInput, type FrameType } from '../../transport/frames.js';
import { LinkServer, type LinkServerOptions } from '../../transport/link-server.js';
import type { ManagerLink } from '../../transport/manager-link.js';

export const TOKEN = 'secret-token';

/** A hello body for node `nodeId`. */
export function helloBody(nodeId = 'node-1', tasks: FrameBodyInput<'hello'>['tasks'] = []): FrameBodyInput<'hello'> {
  return { nodeId, name: nodeId, runtime: 'process', capacity: { cpus: 2, memoryMb: 1024 }, labels: { zone: 'a' }, tasks };
}

/** A running http.Server with a LinkServer attached. */
export interface Harness {
  http: Server;
  links: LinkServer;
  /** `ws://127.0.0.1:PORT` */
  base: string;
  /** Resolves with the next link the server hands out. */
  nextLink(): Promise<ManagerLink>;
  close(): Promise<void>;
}

/** Starts an http.Server on port 0 with a LinkServer (token {@link TOKEN}) attached. */
export async function startHarness(options: Partial<LinkServerOptions> = {}): Promise<Harness> {
  const http = createServer((_req, res) => {
    res.statusCode = 200;
    res.end('ok');
  });
  const links = new LinkServer({ token: TOKEN, ...options });
  links.attach(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    http,
    links,
    base: `ws://127.0.0.1:${port}`,
    nextLink: () => new Promise((resolve) => {
      const off = links.onLink((link) => {
        off();
        resolve(link);
      });
    }),
    close: async () => {
      links.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** A WebSocket peer speaking raw frames, recording what it receives. */
export class RawPeer {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The HTTP status of a refused upgrade, if any. */
  status: number | null = null;
  #waiters: (() => void)[] = [];

  constructor(url: string, token: string | null = TOKEN, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, { ...options, headers: token === null ? {} : { Authorization: `Bearer ${token}` } });
    this.ws.on('unexpected-response', (req, res) => {
      this.status = res.statusCode ?? null;
      res.resume();
      this.ws.terminate();
    });
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('close', () => reject(new Error(`closed before open (status ${this.status})`)));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('message', (data) => {
      const frame = decodeFrame(data.toString());
      if (frame instanceof Error) throw frame;
      this.frames.push(frame);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Sends a valid frame. */
  send<T extends FrameType>(type: T, body: FrameBodyInput<T>, options: { id?: string; re?: string } = {}): void {
    this.ws.send(encodeFrame(type, body, options));
  }

  /** Sends raw text. */
  sendRaw(text: string | Buffer): void {
    this.ws.send(text);
  }

  /** Resolves with the first received frame of `type` not taken yet (removing it). */
  async next<T extends FrameType>(type: T, timeoutMs = 2_000): Promise<Frame<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f) => f.type === type);
      if (i >= 0) return this.frames.splice(i, 1)[0] as Frame<T>;
      if (Date.now() > deadline) throw new Error(`no ${type} frame within ${timeoutMs} ms; got ${this.frames.map((f) => f.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Opens, says hello and waits for the welcome. */
  async join(nodeId = 'node-1'): Promise<Frame<'welcome'>> {
    await this.opened;
    this.send('hello', helloBody(nodeId));
    return this.next('welcome');
  }
}

/** Resolves after `ms` of real time. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
