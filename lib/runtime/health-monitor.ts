/**
 * Watches an engine's health while someone listens: a periodic probe, plus an
 * optional long-lived stream (Docker's event stream) whose end triggers an
 * immediate probe, so "the engine went away" is noticed at once and "it came
 * back" within one interval. Listeners hear changes only, starting with the
 * first observation after they subscribe.
 */
import type { RuntimeHealth } from './types.js';

/** How to observe an engine. */
export interface HealthProbe {
  /** Asks the engine now; never rejects. */
  check(): Promise<RuntimeHealth>;
  /** Opens a stream that calls `onEnd` when the engine connection ends; resolves to its closer. */
  watch?(onEnd: () => void): Promise<() => void>;
}

/** Options of a {@link HealthMonitor}. */
export interface HealthMonitorOptions {
  /** Time between probes, in ms. @default 2000 */
  intervalMs?: number;
}

/** Probes while it has listeners, and tells them when health changes. */
export class HealthMonitor {
  private readonly listeners = new Map<number, { listener: (health: RuntimeHealth) => void; heard?: boolean }>();
  private readonly intervalMs: number;
  private nextId = 0;
  private timer: NodeJS.Timeout | undefined;
  private closeStream: (() => void) | undefined;
  private openingStream = false;
  private checking = false;
  private checkAgain = false;
  private last: RuntimeHealth | undefined;
  private generation = 0;

  /** A monitor of `probe`; it does nothing until the first {@link subscribe}. */
  constructor(
    private readonly probe: HealthProbe,
    options: HealthMonitorOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 2000;
  }

  /** Adds a listener (starting the monitor if it is the first); returns the unsubscribe function. */
  subscribe(listener: (health: RuntimeHealth) => void): () => void {
    const id = this.nextId++;
    const entry: { listener: (health: RuntimeHealth) => void; heard?: boolean } = { listener };
    this.listeners.set(id, entry);
    if (this.listeners.size === 1) this.start();
    else if (this.last) {
      const known = this.last;
      entry.heard = true;
      queueMicrotask(() => {
        if (this.listeners.get(id) === entry) callSafely(listener, known);
      });
    }
    return () => {
      if (this.listeners.delete(id) && this.listeners.size === 0) this.stop();
    };
  }

  /** Stops probing and forgets every listener. */
  close(): void {
    this.listeners.clear();
    this.stop();
  }

  private start(): void {
    this.generation++;
    this.last = undefined;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.tick();
  }

  private stop(): void {
    this.generation++;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.closeStream?.();
    this.closeStream = undefined;
  }

  /** Probes now, or right after the probe in flight (never two at a time). */
  private tick(): void {
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    void this.probeOnce().finally(() => {
      this.checking = false;
      if (this.checkAgain && this.timer) {
        this.checkAgain = false;
        this.tick();
      }
    });
  }

  private async probeOnce(): Promise<void> {
    const generation = this.generation;
    const health = await this.probe.check();
    if (generation !== this.generation) return; // stopped meanwhile
    const changed = this.last === undefined || this.last.ok !== health.ok;
    this.last = health;
    if (changed) this.tell(health);
    else this.tellNewListeners(health);
    if (health.ok) await this.openStream(generation);
  }

  private async openStream(generation: number): Promise<void> {
    if (!this.probe.watch || this.closeStream || this.openingStream) return;
    this.openingStream = true;
    try {
      let ended = false;
      const stream: { close?: () => void } = {}; // onEnd may run before watch() resolves
      stream.close = await this.probe.watch(() => {
        if (ended) return;
        ended = true;
        if (stream.close !== undefined && this.closeStream === stream.close) this.closeStream = undefined;
        if (generation === this.generation) this.tick();
      });
      if (generation !== this.generation || ended) stream.close();
      else this.closeStream = stream.close;
    } catch {
      // The next probe notices the engine is gone, or reopens the stream.
    } finally {
      this.openingStream = false;
    }
  }

  private tell(health: RuntimeHealth): void {
    for (const entry of this.listeners.values()) {
      entry.heard = true;
      callSafely(entry.listener, health);
    }
  }

  private tellNewListeners(health: RuntimeHealth): void {
    for (const entry of this.listeners.values()) {
      if (entry.heard) continue;
      entry.heard = true;
      callSafely(entry.listener, health);
    }
  }
}

/**
 * Calls a listener. Its exception must not stop the monitor nor skip the
 * other listeners, and must not vanish either: it is rethrown on its own.
 */
function callSafely(listener: (health: RuntimeHealth) => void, health: RuntimeHealth): void {
  try {
    listener(health);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
