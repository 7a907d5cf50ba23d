/**
 * `goat-cluster tree --watch`: the live supervision-tree inspector. On a
 * terminal: alternate screen, hidden cursor, raw-mode keys, redrawn in place
 * when something changes (every 250 ms while a countdown shows). Otherwise:
 * the plain tree printed once per change (`--json`: one JSON line per change).
 * Runs until q / Ctrl-C / SIGINT / SIGTERM; a lost manager shows on the status
 * line and it keeps retrying.
 */
import type { ClientOptions } from '../cli/client.js';
import { applyKey, initialState, parseKeys, type InspectorState } from './keys.js';
import { hasCountdown, render, visibleRows } from './render.js';
import { ESC, frame, Screen } from './screen.js';
import { POLL_MS, startSource, type Snapshot } from './source.js';
import { paint, truncate } from './text.js';

/** Options of {@link watchTree}. */
export interface WatchOptions extends ClientOptions {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Raw-mode input (a TTY for the interactive inspector). @default process.stdin */
  input?: NodeJS.ReadableStream;
  json: boolean;
  env: NodeJS.ProcessEnv;
  /** @default POLL_MS */
  pollMs?: number;
}

type Tty = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
type TtyIn = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(on: boolean): unknown };

/** Runs the inspector until the person (or a signal) ends it. */
export async function watchTree(o: WatchOptions): Promise<void> {
  const out = o.out as Tty;
  const input = (o.input ?? process.stdin) as TtyIn;
  if (out.isTTY && input.isTTY && typeof input.setRawMode === 'function' && !o.json) return interactive(o, out, input);
  return plain(o);
}

/** Resolves on SIGINT/SIGTERM (or when `stop` is called). */
function untilSignal(): { done: Promise<void>; stop(): void } {
  let stop!: () => void;
  const done = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (): void => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  void done.then(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
  return { done, stop };
}

async function plain(o: WatchOptions): Promise<void> {
  const end = untilSignal();
  let lastKey = '';
  let lastError = '';
  const stopSource = startSource(o, {
    data(s: Snapshot) {
      lastError = '';
      const key = JSON.stringify([s.tree, s.nodes.map((n) => [n.id, n.name, n.status])]);
      if (key === lastKey) return;
      lastKey = key;
      if (o.json) o.out.write(`${JSON.stringify({ at: Date.now(), tree: s.tree, nodes: s.nodes })}\n`);
      else {
        const lines = render({ tree: s.tree, nodes: s.nodes, view: { cursor: -1, collapsed: new Set(), filter: '' }, now: Date.now(), width: 1000, colour: false });
        o.out.write(`--- ${new Date().toISOString()}\n${lines.join('\n')}\n\n`);
      }
    },
    error(message) {
      if (message !== lastError) o.err.write(`goat-cluster tree: ${message} (retrying)\n`);
      lastError = message;
    },
  });
  await end.done;
  stopSource();
}

async function interactive(o: WatchOptions, out: Tty, input: TtyIn): Promise<void> {
  const colour = !('NO_COLOR' in o.env);
  const screen = new Screen(out);
  const end = untilSignal();
  let state: InspectorState = initialState();
  let data: Snapshot | null = null;
  let status = 'connecting…';
  let statusIsError = false;
  let scroll = 0;

  const draw = (): void => {
    const width = Math.max(20, (out.columns ?? 80) - 1);
    const height = Math.max(5, out.rows ?? 24);
    const now = Date.now();
    const rows = visibleRows(data?.tree ?? null, state);
    state = { ...state, cursor: Math.min(state.cursor, Math.max(0, rows.length - 1)) };
    const body = render({ tree: data?.tree ?? null, nodes: data?.nodes ?? [], view: state, now, width, colour });
    const title = paint(truncate([[`goat-cluster tree  ${o.manager}`, 'bold'], [`  ${new Date(now).toLocaleTimeString()}`, 'dim']], width), colour);
    const footer = state.editing !== null
      ? paint(truncate([['filter: ', 'bold'], [`${state.editing}▏`, 'plain'], ['  (Enter apply, Esc clear)', 'dim']], width), colour)
      : paint(truncate([[status, statusIsError ? 'red' : 'dim'], [state.filter ? `  filter: ${state.filter}` : '', 'cyan'], ['  ↑↓ move  ←→ collapse/expand  / filter  q quit', 'dim']], width), colour);
    const f = frame(title, body, footer, state.cursor, height, scroll);
    scroll = f.scroll;
    screen.draw(f.lines);
  };

  const stopSource = startSource({ ...o, pollMs: o.pollMs ?? POLL_MS }, {
    data(s) {
      data = s;
      status = `updated ${new Date().toLocaleTimeString()}`;
      statusIsError = false;
      draw();
    },
    error(message) {
      status = `${message} — retrying`;
      statusIsError = true;
      draw();
    },
  });

  const onKeys = (chunk: Buffer | string): void => {
    for (const key of parseKeys(chunk.toString())) {
      const r = applyKey(state, key, visibleRows(data?.tree ?? null, state));
      state = r.state;
      if (r.quit) return end.stop();
    }
    draw();
  };
  const onResize = (): void => {
    screen.invalidate();
    out.write(ESC.home + ESC.clearBelow);
    draw();
  };
  const restore = (): void => {
    input.setRawMode?.(false);
    out.write(ESC.showCursor + ESC.leaveAlt);
  };
  process.once('exit', restore);
  out.write(ESC.enterAlt + ESC.hideCursor + ESC.home + ESC.clearBelow);
  input.setRawMode?.(true);
  input.on('data', onKeys);
  input.resume();
  out.on('resize', onResize);
  const ticker = setInterval(() => {
    const countdown = hasCountdown(visibleRows(data?.tree ?? null, state), Date.now());
    if (countdown || Date.now() % 1000 < 250) draw();
  }, 250);
  draw();

  await end.done;
  clearInterval(ticker);
  stopSource();
  input.off('data', onKeys);
  input.pause();
  out.off('resize', onResize);
  process.off('exit', restore);
  restore();
}
