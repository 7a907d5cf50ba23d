/**
 * Leader election on a real 3-member etcd cluster: one leader among three
 * candidates; a resign elects another at once, a vanished leader (its lease
 * left to expire) is replaced after the lease; epochs only grow; a deposed
 * leader's store is fenced; quorum lost → the leader steps down within the
 * lease, and leads again (or another does) once quorum is back.
 */
import test from 'ava';
import { Etcd3 } from 'etcd3';
import { Election, keepaliveExpired, leaseSeconds, type LeaderInfo } from '../../lib/ha/election.js';
import { openEtcdStore } from '../../lib/store/index.js';
import { EtcdCluster, etcdTest } from '../helpers/etcd-cluster.js';
import { service } from '../store/helpers.js';

const etcd = etcdTest(test);

interface Candidate {
  id: string;
  election: Election;
  client: Etcd3;
  log: string[];
  leading: () => boolean;
}

let n = 0;
async function candidates(c: EtcdCluster, count: number, leaseTtlMs = 2_000): Promise<Candidate[]> {
  const prefix = `e${++n}-${process.pid}`;
  const out: Candidate[] = [];
  for (let i = 0; i < count; i++) {
    const client = new Etcd3({ hosts: c.endpoints });
    const log: string[] = [];
    let leading = false;
    const id = `m${i}`;
    const election = new Election({
      client, prefix, id, url: `http://127.0.0.1:${7000 + i}`, leaseTtlMs,
      onLeader: (epoch) => { leading = true; log.push(`leader ${epoch}`); },
      onStepDown: (reason) => { leading = false; log.push(`down ${reason}`); },
    });
    out.push({ id, election, client, log, leading: () => leading });
  }
  for (const x of out) await x.election.start();
  return out;
}

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

const leaders = (cs: Candidate[]): Candidate[] => cs.filter((x) => x.leading());

test('pure: a leader steps down once 2/3 of the lease passed without a keepalive; etcd gets whole seconds ≥ 2', (t) => {
  t.false(keepaliveExpired(1_000, 3_000, 3_000));
  t.true(keepaliveExpired(1_000, 3_001, 3_000));
  t.is(leaseSeconds(3_000), 3);
  t.is(leaseSeconds(500), 2);
  t.is(leaseSeconds(2_500), 3);
});

etcd('one leader of three; resign → another at once; a vanished leader → another after its lease; epochs grow; the deposed store is fenced', async (t) => {
  const c = await EtcdCluster.start(3);
  const cs = await candidates(c, 3);
  t.teardown(async () => {
    for (const x of cs) await x.election.stop();
    for (const x of cs) x.client.close();
    await c.stop();
  });
  await until('a leader', () => leaders(cs).length === 1);
  const first = leaders(cs)[0]!;
  const epoch1 = first.election.epoch;
  t.true(epoch1 > 0);
  await until('followers know the leader', () => cs.every((x) => x.election.leader?.id === first.id));
  const seen: (LeaderInfo | null)[] = cs.map((x) => x.election.leader);
  t.true(seen.every((l) => l?.epoch === epoch1));

  // The leader's store, guarded by its epoch.
  const store = await openEtcdStore({ client: first.client, prefix: first.election.key.replace(/\/leader$/, ''), epoch: epoch1 });
  t.teardown(() => store.close()); // its writer watch
  store.putService(service('web'), 1);
  await store.committed();

  // SIGTERM: resign → another leader at once.
  const resignAt = Date.now();
  await first.election.resign();
  const rest = cs.filter((x) => x !== first);
  await until('a new leader after resign', () => leaders(rest).length === 1);
  const resignMs = Date.now() - resignAt;
  t.true(resignMs < 1_500, `new leader ${resignMs} ms after a resign`);
  const second = leaders(rest)[0]!;
  t.true(second.election.epoch > epoch1);
  // The deposed leader's writes are refused.
  store.putService(service('web', 7), 2);
  await t.throwsAsync(store.committed(), { message: /no longer the leader/ });

  // A crash: the leader just vanishes (its lease is left to expire).
  const crashAt = Date.now();
  await second.election.stop();
  const third = rest.find((x) => x !== second)!;
  await until('a new leader after a crash', () => third.leading(), 10_000);
  const crashMs = Date.now() - crashAt;
  t.true(crashMs >= 1_000, `not before the lease expired (${crashMs} ms)`);
  t.true(third.election.epoch > epoch1);
  t.log(`resign → new leader ${resignMs} ms; vanish → new leader ${crashMs} ms (lease 2 s)`);
});

etcd('quorum lost (2 of 3 members stopped): the leader steps down within the lease; members back → a leader again', async (t) => {
  const c = await EtcdCluster.start(3);
  const cs = await candidates(c, 2);
  t.teardown(async () => {
    for (const x of cs) await x.election.stop();
    for (const x of cs) x.client.close();
    await c.stop();
  });
  await until('a leader', () => leaders(cs).length === 1);
  const leader = leaders(cs)[0]!;
  const stoppedAt = Date.now();
  await c.signalMember(1, 'SIGKILL');
  await c.signalMember(2, 'SIGKILL');
  const downMs = await until('the leader steps down', () => leaders(cs).length === 0, 10_000);
  t.true(downMs <= 2_500, `stepped down ${Date.now() - stoppedAt} ms after quorum was lost (lease 2 s)`);
  t.true(leader.log.some((l) => l.startsWith('down ')), leader.log.join('; '));
  await new Promise((r) => setTimeout(r, 3_000));
  t.is(leaders(cs).length, 0, 'nobody leads without quorum');
  c.startMember(1);
  c.startMember(2);
  const backMs = await until('a leader again', () => leaders(cs).length === 1, 30_000);
  t.log(`quorum lost → step down ${downMs} ms; quorum back → leader ${backMs} ms`);
});
