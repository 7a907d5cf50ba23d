// Reading /proc/<pid>/stat, the basis of "is the recorded pid still our process?".
import test from 'ava';
import { isAlive, parseProcStat, readProcStat } from '../../lib/runtime/proc.js';

test('parses a stat line whose command name holds spaces and parentheses', (t) => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[0] = 'S'; // field 3: state
  const line = `4242 (my (odd) name) ${fields.join(' ')}`;
  t.deepEqual(parseProcStat(line), { pid: 4242, state: 'S', pgrp: 5, cpuTicks: 14 + 15, startTime: 22 });
  t.is(parseProcStat('garbage'), undefined);
});

test('this process is alive with its own start time and not with another', async (t) => {
  const self = await readProcStat(process.pid);
  t.truthy(self);
  t.true(await isAlive(process.pid, self?.startTime ?? null));
  t.false(await isAlive(process.pid, (self?.startTime ?? 0) + 1));
  t.false(await isAlive(2 ** 22 + 1, null));
});
