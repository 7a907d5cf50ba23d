/**
 * A small file replaced whole or not at all, and durable once written: the
 * text goes to a temp file beside it, is fsynced, then renamed over it. What
 * a worker remembers across restarts (its state, the cluster it joined, the
 * highest leader epoch it saw) is written this way.
 */
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes `text` to `file` atomically and durably (its directory is made when missing); `mode` for a new file. */
export async function writeFileAtomic(file: string, text: string, mode = 0o666): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}
