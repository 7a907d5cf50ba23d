/** The last lines of some output: from a string, or from the end of a file without reading all of it. */
import { open } from 'node:fs/promises';

/** The last `lines` lines of `text` (a trailing newline does not start another line). */
export function lastLines(text: string, lines: number): string[] {
  if (lines <= 0 || text.length === 0) return [];
  const all = text.replace(/\r?\n$/, '').split(/\r?\n/);
  return all.slice(-lines);
}

/** The last `lines` lines of `file`, reading at most `maxBytes` from its end; [] when the file does not exist. */
export async function tailFile(file: string, lines: number, maxBytes = 256 * 1024): Promise<string[]> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return [];
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    let text = buffer.toString('utf8');
    if (length < size) text = text.slice(text.indexOf('\n') + 1); // drop the partial first line
    return lastLines(text, lines);
  } finally {
    await handle.close();
  }
}
