/**
 * A real 3-member etcd cluster for tests: members on loopback ports found
 * free by the OS (listen on port 0, then handed to etcd; a start that loses
 * the race is retried on new ports), data in a temp dir, stopped and removed
 * at teardown. Members can be stopped (SIGTERM / SIGKILL), paused (SIGSTOP)
 * and started again on the same ports and data.
 *
 * Without an `etcd` binary the tests skip on a developer's machine and fail
 * loudly under CI=true (`.ci/run` installs etcd-server).
 */
import type { ExecutionContext, Implementation, TestFn } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testEnv } from './env.js';

/** Why etcd cannot be used here, or undefined when `etcd --version` runs. */
export function etcdUnavailable(): string | undefined {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return `etcd cannot be run: ${r.error.message} (apt-get install -y etcd-server etcd-client)`;
  if (r.status !== 0) return `etcd --version exited ${String(r.status)}: ${r.stderr.trim()}`;
  return undefined;
}

/**
 * `test` when etcd is available; otherwise `test.skip` on a developer's
 * machine, and under CI=true a test that fails naming what is missing.
 */
export function etcdTest<C>(test: TestFn<C>): (title: string, impl: Implementation<[], C>) => void {
  const why = etcdUnavailable();
  if (!why) return (title, impl) => test(title, impl);
  if (process.env['CI'] === 'true') {
    let reported = false;
    return (title) => {
      if (reported) return;
      reported = true;
      test(`etcd is required under CI=true (${title} and the others)`, (t) => t.fail(why));
    };
  }
  return (title, impl) => test.skip(title, impl);
}

/** A free loopback TCP port (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One etcd member. */
export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  proc: ChildProcess | null;
  /** Its output, for diagnostics. */
  log: string[];
}

/** A running etcd cluster. */
export class EtcdCluster {
  private constructor(readonly dir: string, readonly members: EtcdMember[]) {}

  /** Client URLs of every member, in order. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** Starts `size` members (default 3) and waits until the cluster serves a linearizable read. */
  static async start(size = 3): Promise<EtcdCluster> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 4; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'goat-etcd-'));
      const members: EtcdMember[] = [];
      for (let i = 0; i < size; i++) {
        const name = `m${i}`;
        members.push({ name, clientUrl: `http://127.0.0.1:${await freePort()}`, peerUrl: `http://127.0.0.1:${await freePort()}`, dataDir: join(dir, name), proc: null, log: [] });
      }
      const cluster = new EtcdCluster(dir, members);
      try {
        for (let i = 0; i < size; i++) cluster.startMember(i);
        await cluster.waitHealthy(20_000, true);
        return cluster;
      } catch (err) {
        lastErr = err;
        await cluster.stop();
      }
    }
    throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
  }

  /** Starts member `i` (again, on its ports and data). */
  startMember(i: number): void {
    const m = this.members[i]!;
    if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null) return;
    const initialCluster = this.members.map((x) => `${x.name}=${x.peerUrl}`).join(',');
    const args = [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', initialCluster, '--initial-cluster-token', `goat-${this.dir.slice(-6)}`,
      '--initial-cluster-state', 'new',
      // Faster elections than the WAN defaults: the tests run on one machine.
      '--heartbeat-interval', '100', '--election-timeout', '1000',
      '--logger', 'zap', '--log-level', 'warn',
    ];
    const proc = spawn('etcd', args, { stdio: ['ignore', 'pipe', 'pipe'], env: testEnv() });
    const keep = (b: Buffer): void => {
      m.log.push(b.toString());
      if (m.log.length > 200) m.log.shift();
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    m.proc = proc;
  }

  /** Sends `signal` to member `i`; waits for it to exit unless the signal is SIGSTOP/SIGCONT. */
  async signalMember(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.members[i]!.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      proc.kill(signal);
      return;
    }
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  }

  /** Index of the member that is etcd's Raft leader now, via `etcdctl endpoint status`. */
  leaderIndex(): number | undefined {
    const live = this.members.filter((m) => m.proc && m.proc.exitCode === null && m.proc.signalCode === null).map((m) => m.clientUrl);
    const r = spawnSync('etcdctl', ['--endpoints', live.join(','), 'endpoint', 'status', '-w', 'json', '--command-timeout=2s'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 });
    try {
      const rows = JSON.parse(r.stdout) as { Endpoint: string; Status: { header: { member_id: number | string }; leader: number | string } }[];
      const leader = rows.find((x) => String(x.Status.header.member_id) === String(x.Status.leader));
      return leader ? this.members.findIndex((m) => m.clientUrl === leader.Endpoint) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Waits until every live member answers health checks; with `failOnExit`, a member that exited (e.g. its port was taken) fails it at once. */
  async waitHealthy(timeoutMs = 20_000, failOnExit = false): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = this.members.filter((m) => m.proc && m.proc.exitCode === null && m.proc.signalCode === null);
      if (live.length === 0) throw new Error('no etcd member is running');
      const r = spawnSync('etcdctl', ['--endpoints', live.map((m) => m.clientUrl).join(','), 'endpoint', 'health', '--command-timeout=1s'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 });
      if (r.status === 0) return;
      const dead = this.members.find((m) => m.proc && (m.proc.exitCode !== null || m.proc.signalCode !== null));
      if (failOnExit && dead) throw new Error(`etcd ${dead.name} exited: ${dead.log.slice(-3).join('')}`);
      if (Date.now() > deadline) throw new Error(`etcd cluster not healthy after ${timeoutMs} ms: ${r.stdout}${r.stderr}\n${live.map((m) => `${m.name}: ${m.log.slice(-5).join('')}`).join('\n')}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  /** Stops every member (SIGKILL after SIGCONT) and removes the data. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map(async (m) => {
      const proc = m.proc;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
      await exited;
    }));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A 3-member etcd cluster for this test, stopped at its teardown. */
export async function etcdCluster(t: ExecutionContext, size = 3): Promise<EtcdCluster> {
  const c = await EtcdCluster.start(size);
  t.teardown(() => c.stop());
  return c;
}
