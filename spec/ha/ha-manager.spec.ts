/**
 * One HA manager in this process on a real 3-member etcd cluster: the
 * leader's store is fenced the moment the election steps down (not only once
 * the stopping tree closes it), and a write committed by another epoch (seen
 * by the store's watch of the writer key) makes the leader step down.
 */
import test from 'ava';
import { Etcd3 } from 'etcd3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaManager } from '../../lib/ha/ha-manager.js';
import type { EtcdStore } from '../../lib/store/etcd.js';
import { EtcdCluster, etcdTest } from '../helpers/etcd-cluster.js';
import { eventually } from '../runtime/helpers/wait.js';

const etcd = etcdTest(test.serial as unknown as typeof test);
let cluster: Promise<EtcdCluster> | undefined;
test.after.always(async () => {
  if (cluster) await (await cluster).stop();
});

let n = 0;
async function leader(t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ ha: HaManager; client: Etcd3; prefix: string; store: EtcdStore }> {
  cluster ??= EtcdCluster.start(3);
  const c = await cluster;
  const prefix = `ham${++n}-${process.pid}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'goat-ham-'));
  const client = new Etcd3({ hosts: c.endpoints });
  const silent = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
  const ha = await HaManager.start({ dataDir, listen: '127.0.0.1:0', token: 'ham-token-0123456789', etcd: { endpoints: c.endpoints, prefix }, logger: silent as never });
  t.teardown(async () => {
    await ha.stop();
    client.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  await eventually('it leads', () => ha.role === 'leader' && ha.manager !== null && ha.store !== null, 20_000, 20);
  return { ha, client, prefix, store: ha.store! };
}

etcd('a step-down fences the leader\'s store at once, not only once the stopping tree closes it', async (t) => {
  const { ha, client, prefix, store } = await leader(t);
  t.is(store.fenced, undefined);
  // The leader key deleted: the election steps down from its watch callback. The stopping tree only closes the
  // store (close() does not fence): fenced, with the election's reason, is the step-down's own doing.
  await client.delete().key(`${prefix}/leader`);
  await eventually('fenced', () => store.fenced !== undefined, 10_000, 5);
  t.regex(store.fenced!.message, /stepped down: the leader key was deleted/);
  await eventually('a follower or a leader again with a new store', () => ha.store !== store, 20_000, 20);
  t.true(ha.history.some((h) => h.role === 'follower' && /the leader key was deleted/.test(h.reason ?? '')));
});

etcd('a write committed by another epoch makes the leader step down at once', async (t) => {
  const { ha, client, prefix, store } = await leader(t);
  const epoch = store.epoch;
  await client.put(`${prefix}/writer`).value(String(epoch + 1_000));
  await eventually('fenced', () => store.fenced !== undefined, 10_000, 5);
  t.regex(store.fenced!.message, new RegExp(`epoch ${epoch + 1_000} committed a write`));
  await eventually('stepped down', () => ha.history.some((h) => h.role === 'follower'), 10_000, 20);
  t.regex(ha.history.find((h) => h.role === 'follower')?.reason ?? '', /committed a write/);
});
