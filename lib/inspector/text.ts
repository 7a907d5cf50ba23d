/** Styled text for the inspector: segments, cutting to a width, ANSI colours (or none). */
import { stripVTControlCharacters } from 'node:util';

/** A style of a piece of text. */
export type Style = 'plain' | 'bold' | 'dim' | 'green' | 'yellow' | 'red' | 'cyan';

/** A piece of text and its style. */
export type Segment = [text: string, style: Style];

const SGR: Record<Style, [string, string]> = {
  plain: ['', ''],
  bold: ['\x1b[1m', '\x1b[22m'],
  dim: ['\x1b[2m', '\x1b[22m'],
  green: ['\x1b[32m', '\x1b[39m'],
  yellow: ['\x1b[33m', '\x1b[39m'],
  red: ['\x1b[31m', '\x1b[39m'],
  cyan: ['\x1b[36m', '\x1b[39m'],
};

/** Cuts segments to `width` characters (code points), ending with `…` when something was cut. */
export function truncate(segs: Segment[], width: number): Segment[] {
  const total = segs.reduce((n, [t]) => n + [...t].length, 0);
  if (total <= width) return segs;
  const out: Segment[] = [];
  let room = Math.max(0, width - 1);
  for (const [text, style] of segs) {
    if (room <= 0) break;
    const chars = [...text];
    out.push([chars.slice(0, room).join(''), style]);
    room -= Math.min(room, chars.length);
  }
  if (width > 0) out.push(['…', 'plain']);
  return out;
}

/** Joins segments into a line: with ANSI colours when `colour`; `inverseWidth` > 0 pads to it and shows the line inverse. */
export function paint(segs: Segment[], colour: boolean, inverseWidth = 0): string {
  const text = segs.map(([t, s]) => (colour && t && s !== 'plain' ? `${SGR[s][0]}${t}${SGR[s][1]}` : t)).join('');
  if (!colour || inverseWidth <= 0) return text;
  const len = segs.reduce((n, [t]) => n + [...t].length, 0);
  return `\x1b[7m${text}${' '.repeat(Math.max(0, inverseWidth - len))}\x1b[27m`;
}

/** The text without ANSI escape sequences (Node's own `util.stripVTControlCharacters`, in every supported version). */
export function stripAnsi(s: string): string {
  return stripVTControlCharacters(s);
}
