/**
 * A fake child for fast supervisor tests: records what the supervisor does
 * to it in a shared log and lets a test crash or end any incarnation.
 * The real-component twin is spec/actors/supervision.spec.ts (nact actors).
 */
import type { ChildHandle, ChildSpec, ChildOptionsInput, StartContext, ExitReason } from '../../lib/supervision/index.js';

export interface FakeWorld {
  /** `start:a`, `msg:a:hello`, `shutdown:a`, `kill:a` in the order they happened. */
  log: string[];
  /** Start contexts of the live incarnation of each child. */
  live: Map<string, StartContext<unknown>>;
  /** Ids whose start should throw. */
  failStart: Set<string>;
  /** Ids whose shutdown never completes. */
  hangOnShutdown: Set<string>;
  crash(id: string, message?: string, unhandled?: unknown[]): void;
  exit(id: string, reason?: ExitReason): void;
  spec(input: ChildOptionsInput): ChildSpec<unknown>;
  messages(id: string): string[];
}

export function fakeWorld(): FakeWorld {
  const world: FakeWorld = {
    log: [],
    live: new Map(),
    failStart: new Set(),
    hangOnShutdown: new Set(),
    crash(id, message = 'boom', unhandled = []) {
      const ctx = world.live.get(id);
      if (!ctx) throw new Error(`fake ${id} is not running`);
      world.live.delete(id);
      ctx.exit({ type: 'error', error: { name: 'Error', message } }, unhandled);
    },
    exit(id, reason = { type: 'normal' }) {
      const ctx = world.live.get(id);
      if (!ctx) throw new Error(`fake ${id} is not running`);
      world.live.delete(id);
      ctx.exit(reason);
    },
    spec(input) {
      return {
        ...input,
        start(ctx): ChildHandle {
          if (world.failStart.has(ctx.id)) {
            world.log.push(`failstart:${ctx.id}`);
            throw new Error(`${ctx.id} cannot start`);
          }
          world.log.push(`start:${ctx.id}`);
          world.live.set(ctx.id, ctx);
          return {
            deliver: (m) => void world.log.push(`msg:${ctx.id}:${String(m)}`),
            shutdown: () => {
              world.log.push(`shutdown:${ctx.id}`);
              if (world.hangOnShutdown.has(ctx.id)) return new Promise<void>(() => undefined);
              world.live.delete(ctx.id);
              return Promise.resolve();
            },
            kill: () => {
              world.log.push(`kill:${ctx.id}`);
              world.live.delete(ctx.id);
            },
          };
        },
      };
    },
    messages(id) {
      return world.log.filter((l) => l.startsWith(`msg:${id}:`)).map((l) => l.slice(`msg:${id}:`.length));
    },
  };
  return world;
}
