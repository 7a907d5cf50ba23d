/**
 * OOM kills as Docker's event stream reports them. dockerd 20.10 (cgroup v1)
 * sometimes handles a container's exit before its OOM event, and then leaves
 * `State.OOMKilled` false for good although it emitted the `oom` event; so
 * the runtime also listens for those events and believes either source.
 */
import type Dockerode from 'dockerode';
import { LABELS } from './identity.js';

const KEEP_MS = 60 * 60 * 1000;

/** The event stream as dockerode returns it (an HTTP response). */
type EventStream = NodeJS.ReadableStream & { destroy(): void; socket?: { unref?(): void } };

/** Remembers which containers the engine reported as OOM-killed. */
export class OomEvents {
  private readonly seenAt = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private stream: EventStream | undefined;
  private opening: Promise<void> | undefined;
  private closed = false;

  /** Listens to `docker`'s events once {@link ensureOpen} is called. */
  constructor(private readonly docker: Dockerode) {}

  /** Opens the stream unless it is open; never rejects (an engine that is down is reported elsewhere). */
  ensureOpen(): Promise<void> {
    if (this.closed || this.stream) return Promise.resolve();
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** True when an `oom` event was seen for this container id. */
  seen(containerId: string): boolean {
    return this.seenAt.has(containerId);
  }

  /** Forgets the container's OOM kill (it is being started again: the next exit is a new one). */
  forget(containerId: string): void {
    this.seenAt.delete(containerId);
  }

  /** Resolves true as soon as an `oom` event for the container is seen, false after `ms`. */
  waitFor(containerId: string, ms: number): Promise<boolean> {
    if (this.seen(containerId)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiters = this.waiters.get(containerId) ?? new Set();
      this.waiters.set(containerId, waiters);
      const done = (value: boolean) => {
        clearTimeout(timer);
        waiters.delete(onSeen);
        if (waiters.size === 0) this.waiters.delete(containerId);
        resolve(value);
      };
      const onSeen = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      waiters.add(onSeen);
    });
  }

  /** Closes the stream for good. */
  close(): void {
    this.closed = true;
    this.stream?.destroy();
    this.stream = undefined;
  }

  private async open(): Promise<void> {
    let stream: EventStream;
    try {
      stream = (await this.docker.getEvents({
        filters: { type: ['container'], event: ['oom'], label: [LABELS.task] },
      })) as EventStream;
    } catch {
      return;
    }
    if (this.closed) {
      stream.destroy();
      return;
    }
    stream.socket?.unref?.(); // a helper stream: it must not keep a process alive
    this.stream = stream;
    let partial = '';
    stream.on('data', (chunk: Buffer | string) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.record(line);
    });
    const ended = () => {
      if (this.stream === stream) this.stream = undefined;
    };
    stream.once('end', ended);
    stream.once('close', ended);
    stream.once('error', ended);
  }

  private record(line: string): void {
    let id: unknown;
    try {
      id = (JSON.parse(line) as { id?: unknown }).id;
    } catch {
      return;
    }
    if (typeof id !== 'string') return;
    const now = Date.now();
    for (const [known, at] of this.seenAt) if (now - at > KEEP_MS) this.seenAt.delete(known);
    this.seenAt.set(id, now);
    for (const waiter of this.waiters.get(id) ?? []) waiter();
  }
}
