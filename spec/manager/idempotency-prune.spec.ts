/**
 * Idempotency-Keys are pruned on the manager's minute timer (issue 11): a
 * key past its 24 h life is deleted from the store, not only ignored when
 * looked up, and the same key with another body is then a new request. A
 * prune that throws (a store error) is logged and retried, never a crash.
 * A real manager and SQLite file, on a simulated clock.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../actors/manager/manager.js';
import { SimulatedClock } from '../../lib/supervision/index.js';

const TOKEN = 'idempotency-prune-token';
const DAY = 24 * 3_600_000;
const PRUNE_MS = 60_000;

async function start(t: { teardown(f: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'goat-idem-'));
  const clock = new SimulatedClock(1_000_000);
  const warnings: string[] = [];
  const manager = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: TOKEN, clock, logger: { info: () => undefined, warn: (m: string) => warnings.push(m) } });
  t.teardown(async () => {
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const post = async (body: unknown, key: string) => {
    const res = await fetch(`${manager.url}/v1/services`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as unknown };
  };
  return { manager, clock, post, warnings };
}

const spec = (name: string, replicas: number) => ({ name, replicas, task: { command: ['node', '-e', 'setInterval(()=>{},1000)'] } });

test('an expired Idempotency-Key is pruned on the timer; the same key with another body is then accepted as new', async (t) => {
  const { manager, clock, post } = await start(t);
  t.is((await post(spec('first', 1), 'k-prune')).status, 201);
  t.is((await post(spec('other', 1), 'k-prune')).status, 409, 'another body within the key\'s life');
  t.not(manager.store.getIdempotency('k-prune', 0), undefined, 'stored');
  await clock.advance(DAY - PRUNE_MS);
  t.not(manager.store.getIdempotency('k-prune', 0), undefined, 'kept while it lives');
  await clock.advance(2 * PRUNE_MS);
  t.is(manager.store.getIdempotency('k-prune', 0), undefined, 'deleted from the store by the timer');
  const again = await post(spec('other', 1), 'k-prune');
  t.is(again.status, 201, 'a new request');
  t.like(again.json as object, { name: 'other' });
});

test('a prune that throws is logged and retried; the manager runs on', async (t) => {
  const { manager, clock, warnings } = await start(t);
  const real = manager.store.pruneIdempotency.bind(manager.store);
  let calls = 0;
  manager.store.pruneIdempotency = (now: number) => {
    calls++;
    if (calls === 1) throw new Error('disk I/O error (test)');
    return real(now);
  };
  await clock.advance(PRUNE_MS);
  t.is(calls, 1);
  t.true(warnings.some((m) => m.includes('pruning expired Idempotency-Keys failed') && m.includes('disk I/O error (test)')), warnings.join('\n'));
  t.is(manager.tree().status, 'running');
  await clock.advance(PRUNE_MS);
  t.is(calls, 2, 'the timer goes on');
  t.is((await fetch(`${manager.url}/readyz`)).status, 200);
});
