/**
 * HA surfaces without etcd (fast; the real-process tests are in
 * spec/integration/ha*.spec.ts): a follower's own `/metrics`, its reads while
 * no leader is known (`Goat-Stale`), the leader API's stale marking, and the
 * `managers` node of the tree and the inspector.
 */
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withManagers } from '../../lib/ha/managers-tree.js';
import { render } from '../../lib/inspector/index.js';
import type { LeaderInfo } from '../../lib/ha/election.js';
import { createFollowerServer } from '../../transport/follower-server.js';
import { createApiHandler, type ManagerApi } from '../../transport/http-api.js';
import type { TreeNode } from '../../lib/supervision/index.js';

const TOKEN = 'surfaces-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a follower answers its own /metrics: goat_leader 0 and the epoch of the leader it knows', async (t) => {
  let leader: LeaderInfo | null = { id: 'm1', url: 'http://127.0.0.1:1', epoch: 42 };
  const server = createFollowerServer({ token: TOKEN, leader: () => leader });
  const url = await listen(server);
  t.teardown(() => server.close());
  const text = await (await fetch(`${url}/metrics`)).text();
  t.regex(text, /^goat_leader 0$/m);
  t.regex(text, /^goat_epoch 42$/m);
  leader = null;
  t.regex(await (await fetch(`${url}/metrics`)).text(), /^goat_epoch 0$/m);
});

test('a follower without a leader: reads go to staleRead at once, /readyz says stale; with a leader, not stale', async (t) => {
  let leader: LeaderInfo | null = null;
  const seen: string[] = [];
  const server = createFollowerServer({
    token: TOKEN, leader: () => leader, forwardWaitMs: 100,
    staleRead: (req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(200, { 'goat-stale': 'true', 'content-type': 'application/json' }).end('[]');
    },
  });
  const url = await listen(server);
  t.teardown(() => server.close());
  const read = await fetch(`${url}/v1/tasks`, { headers: auth });
  t.is(read.status, 200);
  t.is(read.headers.get('goat-stale'), 'true');
  t.deepEqual(seen, ['/v1/tasks']);
  t.is((await fetch(`${url}/v1/tasks`)).status, 401, 'the token is checked first');
  const write = await fetch(`${url}/v1/services/web`, { method: 'PATCH', headers: auth, body: '{"replicas":1}' });
  t.is(write.status, 503, 'writes wait for a leader, then 503');
  t.truthy(write.headers.get('retry-after'));
  t.deepEqual(seen, ['/v1/tasks']);
  t.deepEqual(await (await fetch(`${url}/readyz`)).json(), { role: 'follower', leader: null, stale: true });
  leader = { id: 'm1', url: 'http://127.0.0.1:1', epoch: 3 };
  t.deepEqual(await (await fetch(`${url}/readyz`)).json(), { role: 'follower', leader });
});

test('the API marks reads while `stale` says so: Goat-Stale on GETs, stale in /readyz and /healthz', async (t) => {
  let stale = false;
  const api = { ready: () => true, listServices: () => [] } as unknown as ManagerApi;
  const server = createServer(createApiHandler(api, { token: TOKEN, stale: () => stale }));
  const url = await listen(server);
  t.teardown(() => server.close());
  const fresh = await fetch(`${url}/v1/services`, { headers: auth });
  t.is(fresh.headers.get('goat-stale'), null);
  t.deepEqual(await (await fetch(`${url}/readyz`)).json(), { ready: true });
  stale = true;
  const old = await fetch(`${url}/v1/services`, { headers: auth });
  t.is(old.status, 200);
  t.is(old.headers.get('goat-stale'), 'true');
  t.deepEqual(await (await fetch(`${url}/readyz`)).json(), { ready: true, stale: true });
  t.deepEqual(await (await fetch(`${url}/healthz`)).json(), { ok: true, stale: true });
});

test('withManagers: a managers node under the root, each manager with its role and epoch', (t) => {
  const root: TreeNode = { id: 'cluster', path: '/cluster', kind: 'supervisor', status: 'running', restarts: 0, nextRestartAt: null, lastError: null, children: [] };
  const tree = withManagers(root, [
    { id: 'a', url: 'http://a', leader: true, epoch: 7, healthy: true },
    { id: 'b', url: 'http://b', leader: false, epoch: null, healthy: true },
  ]);
  const node = tree.children?.at(-1);
  t.is(node?.path, '/cluster/managers');
  t.deepEqual(node?.children?.map((c) => [c.path, c.status, c.note]), [
    ['/cluster/managers/a', 'running', 'leader, epoch 7  http://a'],
    ['/cluster/managers/b', 'running', 'follower  http://b'],
  ]);
  t.deepEqual(root.children, [], 'the root given is not changed');
  // The inspector shows them with their role and epoch.
  const lines = render({ tree, nodes: [], view: { cursor: -1, collapsed: new Set(), filter: '' }, now: 0, width: 200, colour: false });
  t.true(lines.some((l) => /● a {2}running {2}leader, epoch 7 {2}http:\/\/a$/.test(l)), lines.join('\n'));
  t.true(lines.some((l) => /● b {2}running {2}follower {2}http:\/\/b$/.test(l)), lines.join('\n'));
});
