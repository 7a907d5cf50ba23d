/**
 * The task flags `run` and `update` share (`--image`, `--command`, `-p`, `-e`,
 * `--restart`, `--health-http`, `--cpu`, `--memory`, `--replicas`) and the one
 * function that turns them into (part of) a service spec. `run` builds a whole
 * spec from them; `update` sends only what the flags give, so it changes
 * nothing else.
 */
import { GoatError } from '../errors.js';

/** The flags of a service's task, as `node:util` parseArgs options. */
export const SPEC_OPTIONS = {
  image: { type: 'string' }, command: { type: 'string' }, replicas: { type: 'string' }, publish: { type: 'string', short: 'p', multiple: true },
  env: { type: 'string', short: 'e', multiple: true }, restart: { type: 'string' }, 'health-http': { type: 'string' }, cpu: { type: 'string' },
  memory: { type: 'string' },
} as const;

/** Parsed flag values, as the CLI holds them. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** What the flags given say: the task fields they set and the replica count, if given. */
export interface SpecFromFlags {
  /** Only the task fields a flag gave (`ports` and `env` as a whole). */
  task: Record<string, unknown>;
  /** `--replicas`, when given. */
  replicas?: number;
}

const usage = (m: string): GoatError => new GoatError('GOAT_ERR_USAGE', m);

/** Splits a command line like a shell would for simple cases: whitespace, single and double quotes. */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** A number flag, or undefined when not given; a usage error when it is not a number. */
export function numberFlag(v: FlagValues, k: string): number | undefined {
  const s = v[k] as string | undefined;
  if (s === undefined) return undefined;
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n)) throw usage(`--${k} wants a number, got '${s}'`);
  return n;
}

/**
 * The spec fields the flags in `v` give, and nothing else. `--health-http`
 * checks the first published port: of `-p` when given, else of `currentPorts`
 * (the service's ports, for `update`).
 */
export function specFromFlags(v: FlagValues, currentPorts: readonly { container: number }[] = []): SpecFromFlags {
  const task: Record<string, unknown> = {};
  const image = v['image'] as string | undefined;
  const command = v['command'] as string | undefined;
  if (image) task['image'] = image;
  if (command) task['command'] = splitCommand(command);
  const publish = v['publish'] as string[] | undefined;
  const ports = publish?.map((p) => {
    const m = /^(?:(\d+):)?(\d+)$/.exec(p);
    if (!m) throw usage(`-p wants HOST:CONTAINER or CONTAINER, got '${p}'`);
    return m[1] ? { host: Number(m[1]), container: Number(m[2]) } : { container: Number(m[2]) };
  });
  if (ports?.length) task['ports'] = ports;
  const env = v['env'] as string[] | undefined;
  if (env?.length) {
    task['env'] = Object.fromEntries(env.map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw usage(`-e wants K=V, got '${kv}'`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }));
  }
  if (v['restart']) task['restart'] = { policy: v['restart'] };
  const healthPath = v['health-http'] as string | undefined;
  if (healthPath) {
    const port = (ports ?? currentPorts)[0]?.container;
    if (port === undefined) throw usage('--health-http needs a port (-p)');
    task['health'] = { http: { path: healthPath, port } };
  }
  const cpu = numberFlag(v, 'cpu');
  const memoryMb = numberFlag(v, 'memory');
  if (cpu !== undefined || memoryMb !== undefined) task['resources'] = { ...(cpu !== undefined ? { cpu } : {}), ...(memoryMb !== undefined ? { memoryMb } : {}) };
  const replicas = numberFlag(v, 'replicas');
  return { task, ...(replicas !== undefined ? { replicas } : {}) };
}
