/** The inspector's keys: decoding raw terminal input and what each key does to the view (pure). */
import type { Row, ViewState } from './render.js';

/** A decoded key. */
export type Key = 'up' | 'down' | 'left' | 'right' | 'enter' | 'escape' | 'backspace' | 'ctrl-c' | { char: string };

/** The view plus the filter being typed (null when not typing). */
export interface InspectorState extends ViewState {
  editing: string | null;
}

/** The first view: top row selected, nothing collapsed, no filter. */
export function initialState(): InspectorState {
  return { cursor: 0, collapsed: new Set(), filter: '', editing: null };
}

const ESCAPES: Record<string, Key> = { '[A': 'up', '[B': 'down', '[C': 'right', '[D': 'left', OA: 'up', OB: 'down', OC: 'right', OD: 'left' };

/** Splits a chunk of raw-mode input into keys (arrows, Enter, Esc, Backspace, Ctrl-C, characters). */
export function parseKeys(chunk: string): Key[] {
  const keys: Key[] = [];
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i]!;
    if (c === '\x1b') {
      const seq = chunk.slice(i + 1, i + 3);
      const key = ESCAPES[seq];
      if (key) {
        keys.push(key);
        i += 2;
      } else keys.push('escape');
    } else if (c === '\r' || c === '\n') keys.push('enter');
    else if (c === '\x7f' || c === '\b') keys.push('backspace');
    else if (c === '\x03') keys.push('ctrl-c');
    else if (c >= ' ') keys.push({ char: c });
  }
  return keys;
}

/** What a key did: the new state, and whether to quit. */
export interface KeyResult {
  state: InspectorState;
  quit: boolean;
}

function editKey(s: InspectorState, key: Key): KeyResult {
  const editing = s.editing ?? '';
  if (key === 'ctrl-c') return { state: s, quit: true };
  if (key === 'enter') return { state: { ...s, filter: editing, editing: null, cursor: 0 }, quit: false };
  if (key === 'escape') return { state: { ...s, filter: '', editing: null, cursor: 0 }, quit: false };
  if (key === 'backspace') return { state: { ...s, editing: editing.slice(0, -1) }, quit: false };
  if (typeof key === 'object') return { state: { ...s, editing: editing + key.char }, quit: false };
  return { state: s, quit: false };
}

function setCollapsed(s: InspectorState, path: string, collapsed: boolean): InspectorState {
  const next = new Set(s.collapsed);
  if (collapsed) next.add(path);
  else next.delete(path);
  return { ...s, collapsed: next };
}

/** Applies a key to the state, given the rows now visible. */
export function applyKey(s: InspectorState, key: Key, rows: Row[]): KeyResult {
  if (s.editing !== null) return editKey(s, key);
  const ch = typeof key === 'object' ? key.char : key;
  const row = rows[s.cursor];
  const last = Math.max(0, rows.length - 1);
  const stay = { state: s, quit: false };
  switch (ch) {
    case 'q':
    case 'ctrl-c':
      return { state: s, quit: true };
    case 'up':
    case 'k':
      return { state: { ...s, cursor: Math.max(0, Math.min(last, s.cursor - 1)) }, quit: false };
    case 'down':
    case 'j':
      return { state: { ...s, cursor: Math.min(last, s.cursor + 1) }, quit: false };
    case 'left':
    case 'h': {
      if (!row) return stay;
      if (row.parent && !s.collapsed.has(row.node.path)) return { state: setCollapsed(s, row.node.path, true), quit: false };
      const parentAt = rows.slice(0, s.cursor).findLastIndex((r) => r.depth < row.depth);
      return parentAt >= 0 ? { state: { ...s, cursor: parentAt }, quit: false } : stay;
    }
    case 'right':
    case 'l':
      return row?.parent ? { state: setCollapsed(s, row.node.path, false), quit: false } : stay;
    case 'enter':
      return row?.parent ? { state: setCollapsed(s, row.node.path, !s.collapsed.has(row.node.path)), quit: false } : stay;
    case '/':
      return { state: { ...s, editing: '' }, quit: false };
    case 'escape':
      return { state: { ...s, filter: '', cursor: 0 }, quit: false };
    default:
      return stay;
  }
}
