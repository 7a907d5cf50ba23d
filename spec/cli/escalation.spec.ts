/**
 * A root that gives up stops the process (issue 9): killing the manager's
 * reconciler past the root's budget (10 restarts a minute) through the
 * admin channel makes `goat-cluster manager` log the chain and exit non-zero,
 * as an OTP node does when its top supervisor terminates.
 */
import test from 'ava';
import { AdminClient } from '../../lib/repl/index.js';
import { ProcessCluster } from '../helpers/cli-process.js';
import { freePort } from '../runtime/helpers/net.js';
import { eventually } from '../runtime/helpers/wait.js';

test('the manager exits non-zero with a last line naming the escalation chain', async (t) => {
  // Eleven crashes wait out the reconciler's restart backoff (100 ms doubling to 10 s): ~40 s in all.
  t.timeout(120_000);
  const c = await ProcessCluster.create(await freePort(), 'escalation-token');
  t.teardown(() => c.cleanup());
  const m = await c.startManager();
  const client = new AdminClient(c.url, 'escalation-token');
  await client.opened;
  for (let i = 0; i < 11 && m.alive; i++) {
    await eventually('the reconciler running', async () => {
      if (!m.alive) return true;
      const info = (await client.request('ask', { path: '/cluster/manager/reconciler', message: { type: '$info' } }).catch(() => null)) as { status?: string } | null;
      return info?.status === 'running' || !m.alive;
    }, 20_000); // a restart comes up to the backoff's cap (10 s) after its crash, and a loaded machine adds to it
    if (m.alive) await client.request('send', { path: '/cluster/manager/reconciler', message: { type: '$kill', reason: `round ${i}` } }).catch(() => undefined);
  }
  client.close();
  const exit = await Promise.race([m.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
  t.not(exit, null, `the manager did not exit:\n${m.output}`);
  t.is(exit?.code, 1);
  t.regex(m.output, /root supervisor gave up; stopping the process: \/cluster\/manager\/reconciler crashed \(Killed: killed: round 10\) → \/cluster\/manager gave up: supervisor budget spent: .* → \/cluster gave up: supervisor budget spent/);
});
