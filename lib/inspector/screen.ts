/**
 * The full-screen frame and how it reaches the terminal without flicker:
 * no clear, only the lines that changed are rewritten in place (cursor
 * addressed, then clear-to-end-of-line).
 */

/** Escape sequences the inspector uses. */
export const ESC = {
  enterAlt: '\x1b[?1049h',
  leaveAlt: '\x1b[?1049l',
  hideCursor: '\x1b[?25l',
  showCursor: '\x1b[?25h',
  home: '\x1b[H',
  clearLine: '\x1b[K',
  clearBelow: '\x1b[J',
  at: (row: number): string => `\x1b[${row};1H`,
} as const;

/** The lines of one screen: header, the body scrolled so `focus` is visible, footer on the last row. */
export function frame(header: string, body: string[], footer: string, focus: number, height: number, scroll: number): { lines: string[]; scroll: number } {
  const room = Math.max(1, height - 2);
  let top = Math.min(scroll, Math.max(0, body.length - room));
  if (focus >= 0 && focus < top) top = focus;
  if (focus >= 0 && focus >= top + room) top = focus - room + 1;
  const shown = body.slice(top, top + room);
  while (shown.length < room) shown.push('');
  return { lines: [header, ...shown, footer], scroll: top };
}

/** Writes frames to a terminal, rewriting only the rows that differ from the last frame. */
export class Screen {
  #last: string[] = [];

  constructor(private readonly out: NodeJS.WritableStream) {}

  /** Forgets what is on screen (after a resize): the next draw rewrites every row. */
  invalidate(): void {
    this.#last = [];
  }

  /** Draws `lines`; returns true when something was written. */
  draw(lines: string[]): boolean {
    let buf = '';
    const rows = Math.max(lines.length, this.#last.length);
    for (let i = 0; i < rows; i++) {
      const line = lines[i] ?? '';
      if (this.#last[i] === line) continue;
      buf += `${ESC.at(i + 1)}${line}${ESC.clearLine}`;
    }
    this.#last = [...lines];
    if (buf) this.out.write(buf);
    return buf !== '';
  }
}
