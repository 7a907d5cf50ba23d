// One place decides reason and message of an exit, for both runtimes.
import test from 'ava';
import { exitInfo } from '../../lib/runtime/exit-info.js';

const at = 1_700_000_000_000;

test('an exit code is an exit; a signal gets code 128 + n', (t) => {
  t.like(exitInfo({ code: 3, signal: null, finishedAt: at }), { code: 3, reason: 'exited', message: 'exited with code 3', oomKilled: false });
  t.like(exitInfo({ code: 0, signal: null, finishedAt: at }), { code: 0, reason: 'exited' });
  t.like(exitInfo({ code: null, signal: 'SIGKILL', finishedAt: at }), { code: 137, signal: 'SIGKILL', reason: 'exited', message: 'killed by SIGKILL' });
});

test('stopping wins over everything, then OOM, then an unknown status', (t) => {
  t.like(exitInfo({ code: 137, signal: null, oomKilled: true, stopRequested: true, finishedAt: at }), { reason: 'stopped', oomKilled: true });
  t.like(exitInfo({ code: 137, signal: null, oomKilled: true, finishedAt: at }), { reason: 'oom', message: 'killed for exceeding its memory limit (exited with code 137)' });
  t.like(exitInfo({ code: null, signal: null, finishedAt: at }), { code: null, reason: 'unknown', message: 'ended, exit status unknown' });
});
