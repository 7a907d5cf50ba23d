/** Paths of the repository, found from the compiled test file (dist/spec/…) or the source. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'goat-cluster') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the goat-cluster package root');
    dir = parent;
  }
}

/** The repository root. */
export const ROOT = findRoot();

/** `images/echo/server.js` (plain JS, runnable with node). */
export const ECHO_SERVER = join(ROOT, 'images', 'echo', 'server.js');

/** `images/faulty/server.js`. */
export const FAULTY_SERVER = join(ROOT, 'images', 'faulty', 'server.js');

/** The compiled runtime library (dist/lib/runtime/index.js), for helper processes. */
export const RUNTIME_MODULE = join(ROOT, 'dist', 'lib', 'runtime', 'index.js');
