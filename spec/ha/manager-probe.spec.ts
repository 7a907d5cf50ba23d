/**
 * The liveness probe behind `healthy` in `goat-cluster managers`: a manager
 * answering `/healthz` 200 is healthy; one that accepts the connection but
 * never answers (a paused process), answers 503, or is not there at all is
 * not — and the probe gives up after its short timeout.
 */
import test from 'ava';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { probeManager } from '../../lib/ha/manager-probe.js';
import { listen } from '../helpers/listen.js';

test('healthy when /healthz answers 200; not when it answers 503 or nothing listens', async (t) => {
  const paths: string[] = [];
  const ok = await listen(t, createHttpServer((req, res) => (paths.push(req.url ?? ''), res.end('ok'))));
  const failing = await listen(t, createHttpServer((_req, res) => ((res.statusCode = 503), res.end())));
  t.true(await probeManager(ok));
  t.deepEqual(paths, ['/healthz']);
  t.false(await probeManager(failing));
  const gone = createTcpServer();
  const goneUrl = await listen(t, gone);
  await new Promise<void>((resolve) => gone.close(() => resolve()));
  t.false(await probeManager(goneUrl));
  t.false(await probeManager('not a url'));
});

test('a manager that accepts the connection but never answers (paused) is unhealthy after the timeout', async (t) => {
  const silent = await listen(t, createTcpServer(() => {})); // the kernel accepts; nobody reads: as a SIGSTOPped process
  const started = Date.now();
  t.false(await probeManager(silent, 300));
  const took = Date.now() - started;
  t.true(took >= 250, `gave up after ${took} ms, not before the timeout`);
});
