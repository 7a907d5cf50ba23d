import test from 'ava';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { HealthChecker, probeOnce, type ProbeResult, type ProbeTarget } from '../../lib/runtime/task-health.js';
import { localExec } from '../../lib/runtime/exec.js';
import { SimulatedClock } from '../../lib/supervision/index.js';
import { freePort } from './helpers/net.js';

const spec = { intervalMs: 100, timeoutMs: 50, retries: 3, startPeriodMs: 1000 };

function scripted(results: boolean[]) {
  let i = 0;
  const calls: number[] = [];
  return { calls, probe: async (): Promise<ProbeResult> => ({ ok: results[Math.min(i++, results.length - 1)]!, detail: `probe ${i}` }) };
}

test('no probe runs during the start period; retries failures in a row make it unhealthy, once', async (t) => {
  const clock = new SimulatedClock();
  const s = scripted([false, false, false, false]);
  const verdicts: string[] = [];
  const checker = new HealthChecker(spec, s.probe, (d) => verdicts.push(d), clock);
  checker.start();
  await clock.advance(1099);
  t.deepEqual(verdicts, []);
  await clock.advance(1 + 100 + 100);
  t.is(verdicts.length, 1);
  t.regex(verdicts[0]!, /3 health checks failed in a row; last: probe 3/);
  await clock.advance(1000);
  t.is(verdicts.length, 1, 'it stops probing once unhealthy');
});

test('a success resets the count of failures', async (t) => {
  const clock = new SimulatedClock();
  const s = scripted([false, false, true, false, false, true]);
  const verdicts: string[] = [];
  new HealthChecker({ ...spec, startPeriodMs: 0 }, s.probe, (d) => verdicts.push(d), clock).start();
  await clock.advance(600);
  t.deepEqual(verdicts, []);
});

test('the first passing probe calls onHealthy, once (the rollout monitor counts from it)', async (t) => {
  const clock = new SimulatedClock();
  const s = scripted([false, true, false, true]);
  const healthy: number[] = [];
  new HealthChecker({ ...spec, startPeriodMs: 0 }, s.probe, () => undefined, clock, () => healthy.push(clock.now())).start();
  await clock.advance(150);
  t.deepEqual(healthy, [], 'the first probe failed');
  await clock.advance(50);
  t.deepEqual(healthy, [200]);
  await clock.advance(1_000);
  t.deepEqual(healthy, [200], 'once');
});

test('stop() ends the probing', async (t) => {
  const clock = new SimulatedClock();
  const verdicts: string[] = [];
  const checker = new HealthChecker({ ...spec, startPeriodMs: 0 }, scripted([false]).probe, (d) => verdicts.push(d), clock);
  checker.start();
  checker.stop();
  await clock.advance(10_000);
  t.deepEqual(verdicts, []);
});

async function server(status: number): Promise<{ port: number; close: () => void }> {
  const port = await freePort();
  const s: Server = createServer((_req, res) => res.writeHead(status).end());
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  return { port, close: () => s.close() };
}

const target = (portOf = (p: number) => p): ProbeTarget => ({ host: '127.0.0.1', portOf, exec: (argv, ms) => localExec(argv, ms, tmpdir(), process.env) });

test('http probes: 2xx is healthy, 5xx and a closed port are not', async (t) => {
  const good = await server(200);
  const bad = await server(500);
  t.teardown(() => { good.close(); bad.close(); });
  // A real request: a generous timeout, so a loaded machine's first request is not mistaken for an unhealthy task.
  const http = (port: number) => ({ ...spec, timeoutMs: 2_000, http: { path: '/health', port } });
  t.true((await probeOnce(http(good.port), target())).ok);
  const r = await probeOnce(http(bad.port), target());
  t.false(r.ok);
  t.regex(r.detail, /GET \/health → 500/);
  t.false((await probeOnce(http(await freePort()), target())).ok);
});

test('http probes use the node port mapped to the task port', async (t) => {
  const good = await server(204);
  t.teardown(good.close);
  t.true((await probeOnce({ ...spec, timeoutMs: 2_000, http: { path: '/', port: 7777 } }, target(() => good.port))).ok);
});

test('tcp probes: open port healthy, closed port not', async (t) => {
  const open = await server(200);
  t.teardown(open.close);
  t.true((await probeOnce({ ...spec, timeoutMs: 2_000, tcp: { port: open.port } }, target())).ok);
  t.false((await probeOnce({ ...spec, tcp: { port: await freePort() } }, target())).ok);
});

test('exec probes run through the target: exit 0 healthy, other codes and timeouts not', async (t) => {
  const exec = (argv: string[]) => probeOnce({ ...spec, timeoutMs: 2000, exec: argv }, target());
  t.true((await exec([process.execPath, '-e', 'process.exit(0)'])).ok);
  const r = await exec([process.execPath, '-e', 'console.error("db down"); process.exit(2)']);
  t.false(r.ok);
  t.regex(r.detail, /exited 2: db down/);
  const slow = await probeOnce({ ...spec, timeoutMs: 100, exec: [process.execPath, '-e', 'setTimeout(() => {}, 5000)'] }, target());
  t.false(slow.ok);
  t.regex(slow.detail, /did not finish/);
});
