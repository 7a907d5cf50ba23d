/**
 * Under CI=true nothing is skipped: a test whose machine requirement is
 * missing fails, naming what is missing; on a developer's machine it is
 * skipped with a warning. Checked by running a fixture spec
 * (spec/fixtures/requires-missing.ts) in its own ava process both ways.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { verdict } from '../helpers/requires.js';
import { ROOT } from '../runtime/helpers/repo.js';

const AVA = join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');

function ava(ci: boolean): Promise<{ code: number; out: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CI'));
  if (ci) env['CI'] = 'true';
  return new Promise((resolve) => {
    execFile(process.execPath, [AVA, '--config', join('spec', 'fixtures', 'ava.config.mjs')], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

test('the verdict: run when present; else fail under CI and skip elsewhere', (t) => {
  t.is(verdict(undefined, true), 'run');
  t.is(verdict(undefined, false), 'run');
  t.is(verdict('missing', true), 'fail');
  t.is(verdict('missing', false), 'skip');
});

test('CI=true: a test whose requirement is missing fails, naming it', async (t) => {
  const r = await ava(true);
  t.is(r.code, 1, r.out);
  t.regex(r.out, /✘ \[fail\]: rides the unicorn CI=true, and this test cannot run: a unicorn unavailable: no unicorn on this machine/);
  t.regex(r.out, /1 test failed/);
});

test('without CI: the same test is skipped, with a warning naming what is missing', async (t) => {
  const r = await ava(false);
  t.is(r.code, 0, r.out);
  t.regex(r.out, /\[skip\] rides the unicorn/);
  t.regex(r.out, /tests skipped \(CI would fail them\): a unicorn unavailable/);
});
