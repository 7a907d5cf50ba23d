/**
 * The manager's end of log streams: one {@link LogRouter} routes `logs_*`
 * frames between the links of the workers and the readers (HTTP responses,
 * `cluster.logs()`). Each stream gives its worker a credit of `window` lines
 * and gives more only as its reader takes lines: a reader that stops reading
 * holds at most `window` lines here, and the worker's bounded buffer drops
 * (and counts) the rest. A worker that does not answer an open within
 * `openTimeoutMs`, or whose link closes, ends the stream with an error naming
 * the node.
 */
import { GoatError } from '../lib/errors.js';
import type { LogEvent, LogEventStream, LogReadOptions } from '../lib/logs/index.js';
import { newId, type Frame, type FrameBodyInput } from './frames.js';

/** How the router sends to one worker (its link). */
export interface LogPort {
  send<T extends 'logs_open' | 'logs_credit' | 'logs_cancel'>(type: T, body: FrameBodyInput<T>): boolean;
}

/** Options of a {@link LogRouter}. */
export interface LogRouterOptions {
  /** Lines a worker may send ahead of the reader, per stream. @default 8000 */
  window?: number;
  /** Time the worker has to answer an open, in ms. @default 5000 */
  openTimeoutMs?: number;
}

interface Route {
  node: string;
  port: LogPort;
  task: string;
  queue: LogEvent[];
  /** Lines taken by the reader and not yet given back as credit. */
  taken: number;
  ended: boolean;
  answered: boolean;
  timer: NodeJS.Timeout | null;
  wake: (() => void) | null;
}

/** Routes log streams between workers' links and readers. */
export class LogRouter {
  readonly #ports = new Map<string, LogPort>();
  readonly #routes = new Map<string, Route>();
  readonly #window: number;
  readonly #openTimeoutMs: number;

  constructor(options: LogRouterOptions = {}) {
    this.#window = options.window ?? 8_000;
    this.#openTimeoutMs = options.openTimeoutMs ?? 5_000;
  }

  /** Streams open now. */
  get size(): number {
    return this.#routes.size;
  }

  /** Lines queued here for all readers (bounded by window × streams). */
  get queuedLines(): number {
    let n = 0;
    for (const r of this.#routes.values()) n += r.queue.length;
    return n;
  }

  /** A worker linked: streams can be opened on it. */
  attach(node: string, port: LogPort): void {
    this.#ports.set(node, port);
  }

  /** A worker's link closed: its streams end with an error naming it. */
  detach(node: string, port: LogPort): void {
    if (this.#ports.get(node) !== port) return;
    this.#ports.delete(node);
    for (const [id, r] of this.#routes) {
      if (r.port === port) this.#end(id, r, { type: 'error', task: r.task, code: 'GOAT_ERR_LINK_CLOSED', message: `the link to node ${node} closed while reading the logs of ${r.task}`, details: { node } });
    }
  }

  /** True when node `node` is linked. */
  linked(node: string): boolean {
    return this.#ports.has(node);
  }

  /** A `logs_data` or `logs_end` frame from node `node`'s worker. */
  frame(node: string, frame: Frame<'logs_data' | 'logs_end'>): void {
    const id = frame.body.streamId;
    const r = this.#routes.get(id);
    if (!r || r.node !== node) return;
    r.answered = true;
    if (r.timer) clearTimeout(r.timer);
    r.timer = null;
    if (frame.body.dropped) r.queue.push({ type: 'dropped', task: r.task, count: frame.body.dropped });
    if (frame.type === 'logs_data') {
      for (const l of frame.body.lines) r.queue.push({ type: 'line', task: r.task, stream: l.s === 'e' ? 'stderr' : 'stdout', at: l.t, text: l.x });
    } else {
      const end = frame.body;
      this.#end(id, r, end.reason === 'error' ? { type: 'error', task: r.task, code: end.code ?? 'GOAT_ERR_RUNTIME', message: end.message ?? 'the worker ended the stream', details: { node } } : null);
    }
    r.wake?.();
  }

  /**
   * Opens the logs of task `task` (its instance `generation`) on node `node`:
   * its events, oldest first. `return()` (a `break`) cancels it on the worker.
   * Throws GOAT_ERR_NODE_UNREACHABLE when the node is not linked.
   */
  open(node: string, task: string, generation: number, options: LogReadOptions): LogEventStream {
    const port = this.#ports.get(node);
    if (!port) throw new GoatError('GOAT_ERR_NODE_UNREACHABLE', `node ${node} is not linked`, { temporary: true, details: { node } });
    const id = newId();
    const r: Route = { node, port, task, queue: [], taken: 0, ended: false, answered: false, timer: null, wake: null };
    this.#routes.set(id, r);
    r.timer = setTimeout(() => {
      if (!r.answered) this.#end(id, r, { type: 'error', task, code: 'GOAT_ERR_NODE_UNREACHABLE', message: `node ${node} did not answer within ${this.#openTimeoutMs} ms`, details: { node } });
    }, this.#openTimeoutMs);
    // Not unref'd: a reader waits on this answer, so the timer must keep the process alive until it fires or is cleared.
    const sent = port.send('logs_open', {
      streamId: id, taskId: task, generation, follow: options.follow === true, credit: this.#window,
      ...(options.tail === undefined ? {} : { tail: options.tail }), ...(options.since === undefined ? {} : { since: options.since }),
    });
    if (!sent) this.#end(id, r, { type: 'error', task, code: 'GOAT_ERR_NODE_UNREACHABLE', message: `the link to node ${node} is closed`, details: { node } });
    // The reader took `lines` lines: give the worker credit for them once they make half the window.
    const took = (lines: number): void => {
      r.taken += lines;
      if (r.ended || r.taken < this.#window / 2) return;
      r.port.send('logs_credit', { streamId: id, lines: r.taken });
      r.taken = 0;
    };
    const iterator: LogEventStream = {
      next: async () => {
        for (;;) {
          const e = r.queue.shift();
          if (e) {
            if (e.type === 'line') took(1);
            return { done: false, value: e };
          }
          if (r.ended) return { done: true, value: undefined };
          await new Promise<void>((resolve) => (r.wake = resolve));
          r.wake = null;
        }
      },
      takeReady: (max) => {
        const events = r.queue.splice(0, max);
        let lines = 0;
        for (const e of events) if (e.type === 'line') lines++;
        if (lines > 0) took(lines);
        return events;
      },
      return: async () => {
        if (!r.ended) {
          r.port.send('logs_cancel', { streamId: id });
          this.#end(id, r, null);
        }
        r.queue.length = 0;
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  #end(id: string, r: Route, last: LogEvent | null): void {
    if (r.ended) return;
    r.ended = true;
    if (r.timer) clearTimeout(r.timer);
    this.#routes.delete(id);
    if (last) r.queue.push(last);
    r.wake?.();
  }
}
