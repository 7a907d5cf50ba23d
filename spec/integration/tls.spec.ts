/**
 * TLS (issue 11), with real processes and a certificate the test makes with
 * `openssl`: a `manager --tls-cert --tls-key`, a `worker` joined over wss://
 * with `--tls-ca` running a task, the CLI over https://, and what a user sees
 * when something does not fit — a client without the CA (GOAT_ERR_TLS_UNTRUSTED
 * naming the URL and --tls-ca), plain http:// to the TLS port
 * (GOAT_ERR_TLS_REQUIRED, nothing changed), an unreadable or mismatched
 * certificate at start (GOAT_ERR_TLS_FILE, nothing listening).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { Manager } from '../../actors/manager/manager.js';
import { AdminClient } from '../../lib/repl/index.js';
import { startSource } from '../../lib/inspector/source.js';
import { resolveConfig } from '../../lib/config/index.js';
import { isGoatError } from '../../lib/errors.js';
import { loadServerTls } from '../../lib/tls.js';
import { goatFetch } from '../../lib/tls-fetch.js';
import { createFollowerServer } from '../../transport/follower-server.js';
import { CLI, cli, killGroup, liveArgv, processRecords, startCli, type ServerProcess } from '../helpers/cli-process.js';
import { OPENSSL, makePki, type TestPki } from '../helpers/certs.js';
import { requires } from '../helpers/requires.js';
import { testEnv } from '../helpers/env.js';
import { freePort } from '../runtime/helpers/net.js';
import { ECHO_SERVER } from '../runtime/helpers/repo.js';
import { eventually } from '../runtime/helpers/wait.js';

const gated = requires(OPENSSL);
const TOKEN = `tls-token-${nanoid(12)}`;
const MARK = `goat-tls-${process.pid}-${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`;

let pki: TestPki;
let port: number;
let url: string;
let manager: ServerProcess;
const started: ServerProcess[] = [];
const workerDirs: string[] = [];

function start(name: string, args: string[]): ServerProcess {
  const p = startCli(name, args);
  started.push(p);
  return p;
}

/** `goat-cluster ARGS` against the TLS manager with the token (and the CA unless `ca` is null). */
function tlsCli(args: string[], ca: string | null = pki.ca, manager = url): ReturnType<typeof cli> {
  return cli([...args, '--manager', manager, '--token', TOKEN, ...(ca ? ['--tls-ca', ca] : [])]);
}

if (gated.met) {
  test.before(async () => {
    pki = await makePki();
    port = await freePort();
    url = `https://127.0.0.1:${port}`;
    manager = start('manager', ['manager', '--data-dir', join(pki.dir, 'manager'), '--listen', `127.0.0.1:${port}`, '--token', TOKEN, '--tls-cert', pki.cert, '--tls-key', pki.key]);
    await eventually('the TLS manager to answer', async () => {
      if (!manager.alive) throw new Error(`manager exited:\n${manager.output}`);
      return manager.output.includes(`manager at ${url}`);
    }, 20_000);
  });

  test.after.always(async () => {
    await Promise.all(started.map((p) => p.kill9()));
    for (const dir of workerDirs) {
      for (const r of await processRecords(dir)) if ((await liveArgv(r.pid))?.includes(MARK)) killGroup(r.pid);
    }
    if (pki) await rm(pki.dir, { recursive: true, force: true });
  });
}

gated.serial('a worker joins over wss:// with --tls-ca and runs a task; the CLI works over https:// with --tls-ca', async (t) => {
  const dataDir = join(pki.dir, 'w1');
  workerDirs.push(dataDir);
  const w = start('w1', ['worker', '--join', `wss://127.0.0.1:${port}`, '--token', TOKEN, '--data-dir', dataDir, '--name', 'w1', '--runtime', 'process', '--allow-process', '--tls-ca', pki.ca]);
  await eventually('w1 ready over wss', async () => {
    if (!w.alive) throw new Error(`worker exited:\n${w.output}`);
    const r = await tlsCli(['nodes', '--json']);
    return r.code === 0 && (JSON.parse(r.stdout) as { name: string; status: string }[]).some((n) => n.name === 'w1' && n.status === 'ready');
  }, 20_000);
  t.regex(w.output, new RegExp(`linked to wss://127\\.0\\.0\\.1:${port}/v1/link`));

  const run = await tlsCli(['run', 'sleeper', '--command', `node "${ECHO_SERVER}" ${MARK}`, '-e', 'PORT=0']);
  t.is(run.code, 0, run.stderr);
  await eventually('the task running on w1', async () => {
    const r = await tlsCli(['ps', '--json']);
    return r.code === 0 && (JSON.parse(r.stdout) as { service: string; state: string }[]).some((x) => x.service === 'sleeper' && x.state === 'running');
  }, 20_000);
  // GOAT_TLS_CA works as the flag does.
  const viaEnv = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [CLI, 'services', '--json', '--manager', url, '--token', TOKEN], { env: testEnv({ GOAT_TLS_CA: pki.ca }), timeout: 15_000 }, (err, _out, stderr) => resolve({ code: err ? 1 : 0, stderr }));
  });
  t.is(viaEnv.code, 0, viaEnv.stderr);
  const stop = await tlsCli(['stop', 'sleeper']);
  t.is(stop.code, 0, stop.stderr);
});

gated.serial('--join https:// links as wss:// (the URL a user copies from the manager)', async (t) => {
  const dataDir = join(pki.dir, 'w-https');
  workerDirs.push(dataDir);
  const w = start('w-https', ['worker', '--join', url, '--token', TOKEN, '--data-dir', dataDir, '--name', 'w-https', '--runtime', 'process', '--allow-process', '--tls-ca', pki.ca]);
  t.true(url.startsWith('https://'));
  await eventually('w-https ready', async () => {
    if (!w.alive) throw new Error(`worker exited:\n${w.output}`);
    const r = await tlsCli(['nodes', '--json']);
    return r.code === 0 && (JSON.parse(r.stdout) as { name: string; status: string }[]).some((n) => n.name === 'w-https' && n.status === 'ready');
  }, 20_000);
  t.regex(w.output, new RegExp(`linked to wss://127\\.0\\.0\\.1:${port}/v1/link`));
  await w.kill9();
});

gated.serial('a client without the CA is refused with GOAT_ERR_TLS_UNTRUSTED naming the URL and --tls-ca', async (t) => {
  for (const ca of [null, pki.otherCa]) {
    const r = await tlsCli(['nodes'], ca);
    t.is(r.code, 1);
    t.regex(r.stderr, /GOAT_ERR_TLS_UNTRUSTED/);
    t.true(r.stderr.includes(url), r.stderr);
    t.regex(r.stderr, /--tls-ca/);
  }
  // A worker without the CA says why it cannot link, and never becomes a node.
  const dataDir = join(pki.dir, 'w-noca');
  workerDirs.push(dataDir);
  const w = start('w-noca', ['worker', '--join', `wss://127.0.0.1:${port}`, '--token', TOKEN, '--data-dir', dataDir, '--name', 'w-noca', '--runtime', 'process']);
  await eventually('the worker to say why', () => /GOAT_ERR_TLS_UNTRUSTED/.test(w.output) && w.output.includes('--tls-ca'), 20_000);
  const nodes = JSON.parse((await tlsCli(['nodes', '--json'])).stdout) as { name: string }[];
  t.false(nodes.some((n) => n.name === 'w-noca'));
  await w.kill9();
});

gated.serial('plain http:// to the TLS manager is refused with GOAT_ERR_TLS_REQUIRED and changes nothing', async (t) => {
  const plain = `http://127.0.0.1:${port}`;
  const r = await tlsCli(['run', 'plain', '--command', `node "${ECHO_SERVER}" ${MARK}`], null, plain);
  t.is(r.code, 1);
  t.regex(r.stderr, /GOAT_ERR_TLS_REQUIRED/);
  t.regex(r.stderr, /https:\/\//);
  const services = JSON.parse((await tlsCli(['services', '--json'])).stdout) as { name: string }[];
  t.false(services.some((s) => s.name === 'plain'));
  // A worker given ws:// says to use wss://.
  const dataDir = join(pki.dir, 'w-plain');
  workerDirs.push(dataDir);
  const w = start('w-plain', ['worker', '--join', `ws://127.0.0.1:${port}`, '--token', TOKEN, '--data-dir', dataDir, '--name', 'w-plain', '--runtime', 'process', '--tls-ca', pki.ca]);
  await eventually('the worker to say to use wss://', () => /join with wss:\/\//.test(w.output), 20_000);
  await w.kill9();
});

gated.serial('an unreadable or mismatched certificate is refused at start with GOAT_ERR_TLS_FILE, and nothing listens', async (t) => {
  const p = await freePort();
  const base = ['manager', '--listen', `127.0.0.1:${p}`, '--token', TOKEN];
  const missing = await cli([...base, '--data-dir', join(pki.dir, 'bad1'), '--tls-cert', join(pki.dir, 'nope.pem'), '--tls-key', pki.key]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /GOAT_ERR_TLS_FILE/);
  t.true(missing.stderr.includes(join(pki.dir, 'nope.pem')), missing.stderr);
  const mismatched = await cli([...base, '--data-dir', join(pki.dir, 'bad2'), '--tls-cert', pki.cert, '--tls-key', join(pki.dir, 'other-ca.key')]);
  t.is(mismatched.code, 1);
  t.regex(mismatched.stderr, /GOAT_ERR_TLS_FILE/);
  const halfway = await cli([...base, '--data-dir', join(pki.dir, 'bad3'), '--tls-cert', pki.cert]);
  t.is(halfway.code, 2);
  t.regex(halfway.stderr, /--tls-key/);
  const refused = await new Promise<boolean>((resolve) => {
    const s = connect(p, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
  t.true(refused, 'nothing listens after a refused start');
});

gated.serial('the REPL\'s admin channel and the inspector trust the CA given, and refuse the certificate without it', async (t) => {
  const ca = readFileSync(pki.ca);
  const trusted = new AdminClient(url, TOKEN, ca);
  await trusted.opened;
  t.truthy(await trusted.request('tree'));
  trusted.close();
  const untrusted = new AdminClient(url, TOKEN);
  const err = await t.throwsAsync(untrusted.opened);
  t.true(isGoatError(err, 'GOAT_ERR_TLS_UNTRUSTED'), String(err));
  untrusted.close();
  const seen = await new Promise<string>((resolve, reject) => {
    const stop = startSource({ manager: url, token: TOKEN, ca, pollMs: 200 }, {
      data: (s) => (stop(), resolve(s.tree.path)),
      error: (m) => (stop(), reject(new Error(m))),
    });
  });
  t.regex(seen, /^\/\w+$/, 'the root of the tree, fetched over https');
});

test('a manager in this process serves https with the certificate given as files; GOAT_ERR_TLS_FILE for a file that is not PEM', async (t) => {
  if (!gated.met) return t.pass();
  const dir = join(pki.dir, `inproc-${nanoid(6)}`);
  await t.throwsAsync(Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: TOKEN, tls: { cert: join(pki.dir, 'san.ext'), key: pki.key } }), { message: /not a PEM file/ });
  const m = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', token: TOKEN, tls: { cert: pki.cert, key: pki.key } });
  try {
    t.regex(m.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  } finally {
    await m.stop();
  }
});

test('config: manager.tls and cluster.tlsCa, GOAT_TLS_* over the file; a certificate without a key is refused', (t) => {
  const c = resolveConfig({ manager: { tls: { cert: 'c.pem', key: 'k.pem' } }, cluster: { tlsCa: 'ca.pem' } }, 'cluster.config.ts', {}, '/etc/goat');
  t.deepEqual(c.manager.tls, { cert: '/etc/goat/c.pem', key: '/etc/goat/k.pem' });
  t.is(c.cluster.tlsCa, '/etc/goat/ca.pem');
  const env = resolveConfig({}, null, { GOAT_TLS_CERT: '/x/c.pem', GOAT_TLS_KEY: '/x/k.pem', GOAT_TLS_CA: '/x/ca.pem' }, '/etc/goat');
  t.deepEqual(env.manager.tls, { cert: '/x/c.pem', key: '/x/k.pem' });
  t.is(env.cluster.tlsCa, '/x/ca.pem');
  t.is(resolveConfig({}, null, {}, '/').manager.tls, null);
  const err = t.throws(() => resolveConfig({}, null, { GOAT_TLS_CERT: '/x/c.pem' }, '/'));
  t.true(isGoatError(err, 'GOAT_ERR_INVALID_CONFIG'));
  t.regex(err!.message, /manager\.tls\.key/);
  t.throws(() => resolveConfig({ manager: { tls: { cert: 'c.pem' } } }, 'f.ts', {}, '/'), { message: /manager\.tls\.key/ });
});

test('a follower (HA) serves TLS and forwards to an https:// leader trusting --tls-ca; without it, GOAT_ERR_TLS_UNTRUSTED', async (t) => {
  if (!gated.met) return t.pass();
  const leader = await Manager.start({ dataDir: join(pki.dir, `leader-${nanoid(6)}`), listen: '127.0.0.1:0', token: TOKEN, tls: { cert: pki.cert, key: pki.key } });
  const creds = loadServerTls({ cert: pki.cert, key: pki.key });
  const ca = readFileSync(pki.ca);
  const info = { id: 'leader', url: leader.url, epoch: 1 };
  const servers = [createFollowerServer({ token: TOKEN, tls: creds, ca, leader: () => info }), createFollowerServer({ token: TOKEN, tls: creds, leader: () => info, forwardWaitMs: 200 })];
  try {
    const [trusting, untrusting] = await Promise.all(servers.map((s) => new Promise<string>((resolve) => s.listen(0, '127.0.0.1', () => resolve(`https://127.0.0.1:${(s.address() as { port: number }).port}`)))));
    const ok = await goatFetch(`${trusting}/v1/nodes`, { headers: { authorization: `Bearer ${TOKEN}` } }, { ca });
    t.is(ok.status, 200);
    t.is(ok.headers.get('x-goat-forwarded-to'), leader.url);
    const refused = await goatFetch(`${untrusting}/v1/nodes`, { headers: { authorization: `Bearer ${TOKEN}` } }, { ca });
    t.is(refused.status, 503);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    t.is(body.error.code, 'GOAT_ERR_TLS_UNTRUSTED');
    t.true(body.error.message.includes(leader.url), body.error.message);
  } finally {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await leader.stop();
  }
});
