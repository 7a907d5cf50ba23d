/** Where the goat-cluster package lives on disk (its images/, package.json), from any of its compiled or source files. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder above `from` (a module URL) whose package.json is goat-cluster's. */
export function packageRoot(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'goat-cluster') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the goat-cluster package root');
    dir = parent;
  }
}
