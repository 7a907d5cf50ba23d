/**
 * `goat-cluster logs` reads the manager's text (text/plain) and passes it on
 * as it comes; a task's stream that ends in an error notice exits 1 with the
 * error, and a service's notices are shown among its lines. Against a small
 * HTTP server that answers as the manager does (its sendLogs).
 */
import test from 'ava';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cli } from '../helpers/cli-process.js';

/** Serves `body` to every request; resolves the URL, remembers what was asked. */
async function manager(t: import('ava').ExecutionContext, body: string): Promise<{ url: string; asked: IncomingMessage[] }> {
  const asked: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    asked.push(req);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    // Cut mid-line, as chunks may be.
    res.write(body.slice(0, 7));
    setTimeout(() => res.end(body.slice(7)), 20);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}

test('a task: the text is passed on; an error notice is the command\'s error (exit 1), not output', async (t) => {
  const m = await manager(t, 'out | one\n[goat] 2 line(s) dropped: the reader did not keep up\nerr | two\n[goat] the link to node n1 closed (GOAT_ERR_LINK_CLOSED)\n');
  const r = await cli(['logs', 'web.0.abc', '--follow', '--timestamps', '--manager', m.url, '--token', 'x'.repeat(16)]);
  t.is(r.stdout, 'out | one\n[goat] 2 line(s) dropped: the reader did not keep up\nerr | two\n');
  t.is(r.code, 1);
  t.regex(r.stderr, /the link to node n1 closed.*GOAT_ERR_LINK_CLOSED/);
  t.is(m.asked[0]?.headers.accept, 'text/plain');
  t.regex(m.asked[0]?.url ?? '', /^\/v1\/tasks\/web\.0\.abc\/logs\?follow=1&timestamps=1/);
});

test('a service: notices of its tasks are shown among the lines, and the command succeeds', async (t) => {
  const text = 'web.0.abc  out | one\nweb.1.def  [goat] node n2 did not answer within 5000 ms (GOAT_ERR_NODE_UNREACHABLE)\n';
  const m = await manager(t, text);
  const r = await cli(['logs', 'web', '--manager', m.url, '--token', 'x'.repeat(16)]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, text);
});
