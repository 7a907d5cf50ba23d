import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../lib/cli/main.js', import.meta.url));

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('--help prints the command contract and exits 0', async (t) => {
  const r = await run('--help');
  t.is(r.code, 0);
  t.regex(r.stdout, /usage: goat-cluster <command>/);
  t.regex(r.stdout, /worker\s+--join ws\[s\]:\/\/H:P\[,\.\.\.\] --token-file F \[--config F\]/);
});

test('no command prints usage and exits 2', async (t) => {
  const r = await run();
  t.is(r.code, 2);
  t.regex(r.stdout, /usage:/);
});

test('an unknown command is a usage error (exit 2)', async (t) => {
  const r = await run('frobnicate');
  t.is(r.code, 2);
  t.regex(r.stderr, /unknown command 'frobnicate' \(GOAT_ERR_USAGE\)/);
});

test('manager --etcd with no etcd answering: an error naming the endpoints, exit 1', async (t) => {
  const r = await run('manager', '--etcd', 'http://127.0.0.1:1,http://127.0.0.1:2', '--data-dir', `/tmp/goat-main-spec-${process.pid}`, '--token', 'main-spec-token-123');
  t.is(r.code, 1);
  t.regex(r.stderr, /GOAT_ERR_STORE_UNREACHABLE|no etcd endpoint answered/);
  t.regex(r.stderr, /127\.0\.0\.1:1, http:\/\/127\.0\.0\.1:2/);
});

test('a client command with several managers tries each and says where it looked', async (t) => {
  const r = await run('--manager', 'http://127.0.0.1:1,http://127.0.0.1:2', 'ps');
  t.is(r.code, 1);
  t.regex(r.stderr, /cannot reach the manager at http:\/\/127\.0\.0\.1:1\/?: .*; http:\/\/127\.0\.0\.1:2/);
});

test('a client command with no manager to reach is an error (exit 1) that says where it looked', async (t) => {
  const r = await run('--manager', 'http://127.0.0.1:1', 'ps');
  t.is(r.code, 1);
  t.regex(r.stderr, /cannot reach the manager at http:\/\/127\.0\.0\.1:1/);
});

test('bad arguments are usage errors (exit 2)', async (t) => {
  t.is((await run('ps', '--frobnicate')).code, 2);
  t.is((await run('scale', 'web', 'many')).code, 2);
  t.is((await run('run', 'web')).code, 2, 'neither --image nor --command');
});

test('--version prints the package version', async (t) => {
  const r = await run('--version');
  t.is(r.code, 0);
  t.regex(r.stdout, /^\d+\.\d+\.\d+\n$/);
});
