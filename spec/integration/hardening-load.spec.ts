/**
 * Issue 11 with real processes: a `goat-cluster manager` stays up, answers,
 * and keeps its resident memory bounded through (1) SSE subscribers that
 * never read, each replaying a 10 MB event log from a real SQLite file, and
 * (2) a flood of wrong-token link upgrades from 127.0.0.1, during which a
 * worker with the right token links at once and the linked node stays ready.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { ProcessCluster } from '../helpers/cli-process.js';
import { openSqliteStore } from '../../lib/store/index.js';
import { freePort } from '../runtime/helpers/net.js';
import { eventually } from '../runtime/helpers/wait.js';

const TOKEN = `load-token-${nanoid(12)}`;

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function rawRequest(port: number, head: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(head);
      resolve(s);
    });
    s.once('error', reject);
  });
}

test('1 manager, 100 SSE subscribers that never read a 10 MB replay: RSS stays bounded and the API answers', async (t) => {
  const c = await ProcessCluster.create(await freePort(), TOKEN);
  t.teardown(() => c.cleanup());
  const store = openSqliteStore(join(c.managerDir, 'goat.db'));
  const pad = 'x'.repeat(1000);
  for (let i = 0; i < 10_000; i += 1000) store.appendEvents(Array.from({ length: 1000 }, (_, k) => ({ at: Date.now(), type: 'test.filler', subject: `e${i + k}`, data: { pad } })));
  store.close();
  const m = await c.startManager();
  const before = await rssMb(m.pid);
  const head = `GET /v1/events?since=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nAccept: text/event-stream\r\n\r\n`;
  const slow: Socket[] = [];
  t.teardown(() => slow.forEach((s) => s.destroy()));
  for (let i = 0; i < 100; i++) {
    const s = await rawRequest(c.port, head);
    s.pause(); // never reads
    s.on('error', () => undefined);
    slow.push(s);
  }
  await new Promise((r) => setTimeout(r, 3_000));
  const during = await rssMb(m.pid);
  const started = Date.now();
  const ok = await c.api('GET', '/v1/services');
  t.is(ok.status, 200);
  t.true(Date.now() - started < 5_000, 'the API answered while the subscribers stalled');
  // Unbounded, 100 subscribers × 10 MB of replay would sit in the manager's memory (1 GB).
  t.true(during - before < 250, `RSS grew by ${Math.round(during - before)} MB (from ${Math.round(before)} MB)`);
  t.log(`manager RSS ${Math.round(before)} MB → ${Math.round(during)} MB with 100 stalled subscribers`);
  t.true(m.alive);
});

test('a wrong-token link flood from 127.0.0.1 never locks out the real worker, and the manager stays bounded', async (t) => {
  const c = await ProcessCluster.create(await freePort(), TOKEN);
  t.teardown(() => c.cleanup());
  const m = await c.startManager();
  c.startWorker('w1');
  await eventually('w1 ready', async () => ((await c.api<{ status: string }[]>('GET', '/v1/nodes')).json).some((n) => n.status === 'ready'), 20_000);
  const before = await rssMb(m.pid);
  let stop = false;
  const statuses = new Map<string, number>();
  const guess = async (): Promise<void> => {
    while (!stop) {
      const s = await rawRequest(c.port, [
        'GET /v1/link HTTP/1.1', 'Host: x', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Key: ${Buffer.from(nanoid(16)).toString('base64')}`, `Authorization: Bearer wrong-${nanoid(8)}`, '', '',
      ].join('\r\n')).catch(() => null);
      if (!s) continue;
      const status = await new Promise<string>((resolve) => {
        let text = '';
        s.on('data', (d: Buffer) => void (text += d.toString('utf8')));
        s.on('error', () => undefined);
        s.once('close', () => resolve(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 'none'));
      });
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  const flood = Promise.all(Array.from({ length: 100 }, () => guess()));
  await new Promise((r) => setTimeout(r, 2_000));
  // In the middle of the flood, a new worker with the right token links at once.
  const joinedAt = Date.now();
  c.startWorker('w2');
  await eventually('w2 linked during the flood', async () => ((await c.api<{ name: string; status: string }[]>('GET', '/v1/nodes')).json).some((n) => n.name === 'w2' && n.status === 'ready'), 10_000);
  const linkMs = Date.now() - joinedAt;
  await new Promise((r) => setTimeout(r, 4_000));
  const during = await rssMb(m.pid);
  stop = true;
  await flood;
  const nodes = (await c.api<{ name: string; status: string }[]>('GET', '/v1/nodes')).json;
  t.deepEqual(nodes.map((n) => `${n.name}:${n.status}`).sort(), ['w1:ready', 'w2:ready'], 'no node went suspect or down');
  t.true((statuses.get('401') ?? 0) + (statuses.get('429') ?? 0) > 100, `answers: ${JSON.stringify([...statuses])}`);
  t.is(statuses.get('101'), undefined, 'no wrong token was upgraded');
  t.true(during - before < 150, `RSS grew by ${Math.round(during - before)} MB`);
  t.log(`w2 linked ${linkMs} ms after it started, during ${JSON.stringify([...statuses])}; RSS ${Math.round(before)} → ${Math.round(during)} MB`);
  t.true(m.alive);
});
