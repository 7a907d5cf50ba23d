/**
 * A package-lock.json for a consumer project that installs this package from
 * its packed tarball, built from this repository's own lock file: the
 * tarball's `dependencies` and what they need, at the versions this
 * repository locks, and nothing else (no devDependencies). With it,
 * `npm ci --offline` installs from the npm cache alone, without the registry.
 */

/** One entry of a lock file's `packages`. */
interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

/** A lock file (version 3). */
export interface Lock {
  name?: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

/** Where npm finds `name` when required from the package at `from` (`node_modules/a/node_modules/b` style), or undefined. */
function resolve(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const key = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (packages[key]) return key;
    if (base === '') return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/**
 * The consumer's lock: root `name` depending on `tarball` (as `pkg`, with
 * `pkgDeps` its dependencies) and on `extra` (names locked in `repoLock`,
 * e.g. typescript), plus the closure of their dependencies from `repoLock`.
 */
export function consumerLock(repoLock: Lock, name: string, pkg: { name: string; version: string; dependencies: Record<string, string> }, tarball: string, extra: string[]): Lock {
  const from = repoLock.packages;
  const packages: Record<string, LockEntry> = {};
  const rootDeps: Record<string, string> = { [pkg.name]: `file:${tarball}` };
  for (const e of extra) rootDeps[e] = from[`node_modules/${e}`]?.version ?? '*';
  packages[''] = { name, dependencies: rootDeps };
  packages[`node_modules/${pkg.name}`] = { version: pkg.version, resolved: `file:${tarball}`, dependencies: pkg.dependencies };
  const queue: Array<[string, string]> = [...Object.keys(pkg.dependencies).map((d): [string, string] => ['', d]), ...extra.map((e): [string, string] => ['', e])];
  while (queue.length > 0) {
    const [at, dep] = queue.shift()!;
    const key = resolve(from, at, dep);
    if (key === undefined || packages[key]) continue;
    const entry: LockEntry = { ...from[key]! };
    delete entry.dev;
    delete entry.devOptional;
    packages[key] = entry;
    const optionalPeers = Object.entries(entry.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n);
    const next = [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...Object.keys(entry.peerDependencies ?? {}).filter((n) => !optionalPeers.includes(n))];
    for (const n of next) queue.push([key, n]);
  }
  return { name, lockfileVersion: 3, requires: true, packages };
}
