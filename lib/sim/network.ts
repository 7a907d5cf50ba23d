/**
 * The simulated network: WebSocket-shaped sockets ({@link SimSocket}, the
 * subset of `ws` that the links use) carrying the real link frames
 * (transport/frames.ts text) between simulated nodes, with latency, resets,
 * one-way and two-way partitions, and (on hostile seeds) duplication and
 * reordering.
 *
 * A partition holds frames, as TCP does: what was sent while a direction
 * was cut arrives after it heals, unless the connection closed meanwhile.
 * A reset (RST) closes both ends with 1006. A killed process's peer hears
 * 1006 after the latency (its kernel closes the socket); a crashed machine's
 * peer hears nothing. Every delivery is an event in the receiver's context.
 */
import { EventEmitter } from 'node:events';
import type { Prng } from './prng.js';
import type { SimCtx, SimScheduler } from './scheduler.js';

/** How the network behaves; the seed picks it, faults change it. */
export interface NetProfile {
  /** One-way latency range, ms. */
  latencyMs: [number, number];
  /** Chance that a frame duplicates (a hostile network; TCP never does). */
  dup: number;
  /** Whether frames of one connection may overtake each other (a hostile network). */
  reorder: boolean;
  /** Chance per frame that its connection is reset instead. */
  reset: number;
  /**
   * Chance per frame that it is lost (a hostile network): it and everything
   * after it in that direction never arrive (TCP delivers in order, so the
   * stream stalls behind the lost segment), until the connection is reset
   * 1–15 s later, as TCP surfaces a segment its retransmissions never got
   * through. Meanwhile the other direction still flows. @default 0
   */
  drop?: number;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

interface Conn {
  id: number;
  client: SimSocket;
  server: SimSocket | null;
  /** Last delivery time per direction (FIFO unless reordering). */
  last: Map<string, number>;
  /** Frames held by a partition, per direction. */
  held: Map<string, string[]>;
  /** Directions stalled behind a lost frame (until the reset). */
  stalled?: Set<string>;
}

/** One end of a simulated WebSocket. */
export class SimSocket extends EventEmitter {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  readyState = CONNECTING;
  conn!: Conn;

  constructor(
    readonly net: SimNetwork,
    readonly node: string,
    readonly ctx: SimCtx,
  ) {
    super();
  }

  send(data: unknown): void {
    if (this.readyState !== OPEN) return;
    this.net.transmit(this, String(data));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= CLOSING) return;
    if (this.readyState === CONNECTING) return this.terminate();
    this.readyState = CLOSING;
    this.net.closeFrom(this, code, reason);
  }

  terminate(): void {
    if (this.readyState === CLOSED) return;
    this.net.abort(this, true);
  }

  /** Closes this end now, with `code` (no-op when closed). */
  finish(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.emit('close', code, Buffer.from(reason));
  }
}

/** A server's accept function: takes an open server-side socket. */
export type Accept = (socket: SimSocket, address: string) => void;

/** The network between the simulated nodes. */
export class SimNetwork {
  profile: NetProfile;
  /** Cut directions, `from>to`. */
  readonly #cut = new Set<string>();
  readonly #servers = new Map<string, { ctx: SimCtx; accept: Accept }>();
  readonly #conns = new Set<Conn>();
  #ids = 0;
  /** Told of every frame delivered (the observer). */
  onDeliver: ((from: string, to: string, text: string) => void) | null = null;
  /** Frames sent, delivered, held, duplicated; resets. */
  readonly stats = { sent: 0, delivered: 0, held: 0, dup: 0, resets: 0, refused: 0, dropped: 0 };

  constructor(
    readonly sched: SimScheduler,
    readonly rng: Prng,
    profile: NetProfile,
  ) {
    this.profile = profile;
  }

  /** `node` accepts connections (its process is `ctx`). */
  listen(node: string, ctx: SimCtx, accept: Accept): void {
    this.#servers.set(node, { ctx, accept });
  }

  /** `node` no longer accepts connections. */
  unlisten(node: string): void {
    this.#servers.delete(node);
  }

  /** Cuts `from → to` (and back when `twoWay`). */
  cut(from: string, to: string, twoWay: boolean): void {
    this.#cut.add(`${from}>${to}`);
    if (twoWay) this.#cut.add(`${to}>${from}`);
  }

  /** Heals every cut; held frames flow again. */
  healAll(): void {
    const cuts = [...this.#cut];
    this.#cut.clear();
    for (const key of cuts) {
      for (const c of this.#conns) {
        const held = c.held.get(key);
        if (!held || held.length === 0) continue;
        c.held.delete(key);
        const [from] = key.split('>');
        const sender = c.client.node === from ? c.client : c.server;
        if (!sender) continue;
        for (const text of held) this.#send(c, sender, text, true);
      }
    }
  }

  /** Is `from → to` cut? */
  isCut(from: string, to: string): boolean {
    return this.#cut.has(`${from}>${to}`);
  }

  /** Some direction is cut. */
  get partitioned(): boolean {
    return this.#cut.size > 0;
  }

  #latency(): number {
    const [lo, hi] = this.profile.latencyMs;
    return this.rng.int(lo, hi);
  }

  /** A client on `node` (process `ctx`) connects to `url`'s host. */
  connect(node: string, ctx: SimCtx, url: string, handshakeTimeoutMs: number): SimSocket {
    const host = new URL(url).hostname;
    const client = new SimSocket(this, node, ctx);
    const conn: Conn = { id: ++this.#ids, client, server: null, last: new Map(), held: new Map() };
    client.conn = conn;
    this.#conns.add(conn);
    const fail = (delay: number, message: string): void => {
      this.sched.post(ctx, delay, () => {
        if (client.readyState !== CONNECTING) return;
        // A server end already accepted hears the client go (unless the way back is cut).
        const server = conn.server;
        if (server && server.readyState !== CLOSED && !this.isCut(node, host)) this.sched.post(server.ctx, this.#latency(), () => this.#end(conn, server, 1006, ''));
        this.#conns.delete(conn);
        client.emit('error', new Error(message));
        client.finish(1006, '');
      });
    };
    // As ws's `handshakeTimeout`: a connection not open by then fails (a SYN lost to a partition, a server
    // process killed between accepting and answering, a paused one) — else its client would wait forever.
    fail(handshakeTimeoutMs, 'Opening handshake has timed out');
    if (this.isCut(node, host)) return client;
    const there = this.#latency();
    this.sched.post(this.sched.machineOf(host), there, () => {
      const server = this.#servers.get(host);
      if (!server || !this.sched.alive(server.ctx)) {
        this.stats.refused++;
        return fail(this.#latency(), `connect ECONNREFUSED ${host}`);
      }
      if (client.readyState !== CONNECTING) return;
      this.sched.post(server.ctx, 0, () => {
        if (client.readyState !== CONNECTING) return;
        const s = new SimSocket(this, host, server.ctx);
        s.readyState = OPEN;
        s.conn = conn;
        conn.server = s;
        server.accept(s, node);
        if (this.isCut(host, node)) return; // the handshake times out
        this.sched.post(ctx, this.#latency(), () => {
          if (client.readyState !== CONNECTING) return;
          if (s.readyState !== OPEN) return fail(0, 'socket hang up');
          client.readyState = OPEN;
          client.emit('open');
        });
      });
    });
    return client;
  }

  /** Sends a frame from `sender` to its peer. */
  transmit(sender: SimSocket, text: string): void {
    const c = sender.conn;
    if (!this.sched.alive(sender.ctx)) return;
    this.stats.sent++;
    if (this.profile.reset > 0 && this.rng.chance(this.profile.reset)) {
      this.reset(c);
      return;
    }
    if ((this.profile.drop ?? 0) > 0 && this.rng.chance(this.profile.drop ?? 0)) {
      this.#drop(c, sender);
      return;
    }
    this.#send(c, sender, text, false);
    if (this.profile.dup > 0 && this.rng.chance(this.profile.dup)) {
      this.stats.dup++;
      this.#send(c, sender, text, false);
    }
  }

  /** A frame of `sender`'s is lost: its direction stalls, and the connection resets some seconds later. */
  #drop(c: Conn, sender: SimSocket): void {
    const peer = this.#peer(c, sender);
    this.stats.dropped++;
    if (!peer) return;
    const dir = `${sender.node}>${peer.node}`;
    if (c.stalled?.has(dir)) return;
    (c.stalled ??= new Set()).add(dir);
    this.sched.post(this.sched.machineOf('sim'), this.rng.int(1_000, 15_000), () => this.reset(c));
  }

  #peer(c: Conn, sender: SimSocket): SimSocket | null {
    return sender === c.client ? c.server : c.client;
  }

  #send(c: Conn, sender: SimSocket, text: string, flushing: boolean): void {
    const peer = this.#peer(c, sender);
    if (!peer) return;
    const dir = `${sender.node}>${peer.node}`;
    if (c.stalled?.has(dir)) return;
    if (this.#cut.has(dir)) {
      this.stats.held++;
      const held = c.held.get(dir) ?? [];
      held.push(text);
      c.held.set(dir, held);
      return;
    }
    let at = this.sched.now + this.#latency();
    if (!this.profile.reorder || flushing) at = Math.max(at, c.last.get(dir) ?? 0);
    c.last.set(dir, at);
    this.sched.post(peer.ctx, at - this.sched.now, () => {
      if (peer.readyState !== OPEN && peer.readyState !== CLOSING) return;
      this.stats.delivered++;
      this.onDeliver?.(sender.node, peer.node, text);
      peer.emit('message', text, false);
    });
  }

  /** `sender` closes gracefully: its peer hears the close frame, then it hears the echo (or times out after 30 s). */
  closeFrom(sender: SimSocket, code: number, reason: string): void {
    const c = sender.conn;
    const peer = this.#peer(c, sender);
    if (!peer || this.isCut(sender.node, peer.node)) {
      this.sched.post(sender.ctx, 30_000, () => this.#end(c, sender, 1006, ''));
      return;
    }
    const at = Math.max(this.sched.now + this.#latency(), c.last.get(`${sender.node}>${peer.node}`) ?? 0);
    this.sched.post(peer.ctx, at - this.sched.now, () => {
      peer.finish(code, reason);
      if (!this.isCut(peer.node, sender.node)) this.sched.post(sender.ctx, this.#latency(), () => this.#end(c, sender, code, reason));
      else this.sched.post(sender.ctx, 30_000, () => this.#end(c, sender, 1006, ''));
    });
  }

  /** `sender` aborts (terminate): it closes at once; its peer hears a reset after the latency unless cut. */
  abort(sender: SimSocket, local: boolean): void {
    const c = sender.conn;
    const peer = this.#peer(c, sender);
    if (local) this.sched.post(sender.ctx, 0, () => this.#end(c, sender, 1006, ''));
    sender.readyState = CLOSING;
    if (peer && !this.isCut(sender.node, peer.node)) this.sched.post(peer.ctx, this.#latency(), () => this.#end(c, peer, 1006, ''));
  }

  /** A reset in the network: both ends hear 1006. */
  reset(c: Conn): void {
    this.stats.resets++;
    for (const s of [c.client, c.server]) {
      if (!s || s.readyState === CLOSED) continue;
      s.readyState = CLOSING;
      this.sched.post(s.ctx, this.#latency(), () => this.#end(c, s, 1006, ''));
    }
  }

  /** Resets every connection of `node` (a network blip on that host). */
  resetNode(node: string): void {
    for (const c of [...this.#conns]) if (c.client.node === node || c.server?.node === node) this.reset(c);
  }

  /**
   * A process of `node` died: its sockets are gone; each peer hears 1006
   * after the latency (the kernel closes them), unless `silent` (the machine
   * crashed: nobody tells the peers) or the way is cut.
   */
  processDied(node: string, silent: boolean): void {
    for (const c of [...this.#conns]) {
      const mine = c.client.node === node ? c.client : c.server?.node === node ? c.server : null;
      if (!mine) continue;
      const peer = this.#peer(c, mine);
      mine.readyState = CLOSED;
      this.#conns.delete(c);
      if (!peer || silent || this.isCut(node, peer.node)) continue;
      if (peer.readyState === CONNECTING) {
        this.sched.post(peer.ctx, this.#latency(), () => {
          if (peer.readyState !== CONNECTING) return;
          peer.emit('error', new Error('socket hang up'));
          peer.finish(1006, '');
        });
      } else {
        this.sched.post(peer.ctx, this.#latency(), () => this.#end(c, peer, 1006, ''));
      }
    }
  }

  #end(c: Conn, s: SimSocket, code: number, reason: string): void {
    s.finish(code, reason);
    if (c.client.readyState === CLOSED && (!c.server || c.server.readyState === CLOSED)) this.#conns.delete(c);
  }
}
