/** Paths of the repository, found from the compiled test file (dist/spec/…) or the source. */
import { join } from 'node:path';
import { packageRoot } from '../../../lib/package-root.js';

/** The repository root. */
export const ROOT = packageRoot(import.meta.url);

/** `images/echo/server.js` (plain JS, runnable with node). */
export const ECHO_SERVER = join(ROOT, 'images', 'echo', 'server.js');

/** `images/faulty/server.js`. */
export const FAULTY_SERVER = join(ROOT, 'images', 'faulty', 'server.js');

/** The compiled runtime library (dist/lib/runtime/index.js), for helper processes. */
export const RUNTIME_MODULE = join(ROOT, 'dist', 'lib', 'runtime', 'index.js');
