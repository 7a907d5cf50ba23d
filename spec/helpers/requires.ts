/**
 * Tests that need something from the machine (tmux, network namespaces, PID
 * namespaces): on a developer's machine without it they are skipped with one
 * warning naming what is missing; under `CI=true` they are registered as
 * failing tests naming what is missing, so CI never skips silently.
 *
 *     const tmux = requires(TMUX);
 *     tmux.test('the REPL …', async (t) => { … });
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';

/** True when the suite runs under CI (`CI=true`), where nothing may be skipped. */
export const inCI = process.env['CI'] === 'true';

/** Something tests need from the machine. */
export interface Requirement {
  /** What is needed, e.g. `tmux`. */
  readonly what: string;
  /** Why it is missing, or undefined when it is present (probed on first use, then kept). */
  problem(): string | undefined;
  /** How to get it, shown with the problem. */
  readonly hint: string;
}

/** What happens to a test whose requirement is or is not met. */
export type Verdict = 'run' | 'fail' | 'skip';

/** Pure: run when present; else fail under CI, skip elsewhere. */
export function verdict(problem: string | undefined, ci: boolean): Verdict {
  if (problem === undefined) return 'run';
  return ci ? 'fail' : 'skip';
}

/** A requirement probed once, on first use. */
export function requirement(what: string, hint: string, probe: () => string | undefined): Requirement {
  let probed: { problem: string | undefined } | undefined;
  return {
    what,
    hint,
    problem() {
      probed ??= { problem: probe() };
      return probed.problem;
    },
  };
}

function commandProblem(file: string, args: string[]): string | undefined {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 5_000 });
  if (r.error) return `${file} cannot be run: ${r.error.message}`;
  if (r.status !== 0) return `\`${[file, ...args].join(' ')}\` failed (exit ${r.status}): ${r.stderr.trim()}`;
  return undefined;
}

/** tmux, for tests that drive a real terminal. */
export const TMUX = requirement('tmux', 'install tmux (.ci/run does)', () => commandProblem('tmux', ['-V']));

/** Network namespaces (`ip netns add`), for the partition test: needs root and iproute2. */
export const NETNS = requirement('network namespaces', 'run as root with iproute2 installed', () => {
  const name = `goat-probe-${process.pid}`;
  const problem = commandProblem('ip', ['netns', 'add', name]);
  if (problem === undefined) {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // best effort: the probe namespace is empty
    }
  }
  return problem;
});

/** PID namespaces (`unshare -fp --mount-proc --kill-child`), for killing a worker and its tasks at once: needs root and util-linux. */
export const PIDNS = requirement('PID namespaces', 'run as root with util-linux unshare', () => commandProblem('unshare', ['-fp', '--mount-proc', '--kill-child', 'true']));

type Impl = (t: ExecutionContext) => unknown;
type Register = (title: string, impl: Impl) => void;

/** `test` and `test.serial` gated by one or more requirements (see the module comment). */
export interface Gated {
  /** Like ava's `test`. */
  test: Register;
  /** Like ava's `test.serial`. */
  serial: Register;
  /** True when the tests run for real (register hooks only then). */
  readonly met: boolean;
}

const warned = new Set<string>();

/** Gates tests on `reqs`: they run when all are met; otherwise fail under CI=true and are skipped (with a warning) elsewhere. */
export function requires(...reqs: Requirement[]): Gated {
  const missing = reqs.flatMap((r) => {
    const problem = r.problem();
    return problem === undefined ? [] : [`${r.what} unavailable: ${problem} (${r.hint})`];
  });
  const problem = missing.length === 0 ? undefined : missing.join('; ');
  const v = verdict(problem, inCI);
  const gate = (serial: boolean): Register => (title, impl) => {
    const base = serial ? test.serial : test;
    if (v === 'run') base(title, impl);
    else if (v === 'fail') base(title, (t) => t.fail(`CI=true, and this test cannot run: ${problem}`));
    else {
      if (!warned.has(problem!)) console.warn(`tests skipped (CI would fail them): ${problem}`);
      warned.add(problem!);
      base.skip(title, impl);
    }
  };
  return { test: gate(false), serial: gate(true), met: v === 'run' };
}
