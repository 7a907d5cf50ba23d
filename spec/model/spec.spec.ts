import test from 'ava';
import { GoatError } from '../../lib/errors.js';
import { TASK_DEFAULTS, normalizeTaskSpec } from '../../lib/model/index.js';

test('a minimal task gets the defaults of the failure contract', (t) => {
  const s = normalizeTaskSpec({ image: 'goat/echo' });
  t.is(s.restart.policy, 'always');
  t.is(s.restart.maxRestarts, 5);
  t.is(s.restart.windowMs, 300_000);
  t.deepEqual(s.restart.backoff, { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0.2, resetAfterMs: 60_000 });
  t.is(s.health, null);
  t.deepEqual(s.ports, []);
  t.is(s.stopTimeoutMs, TASK_DEFAULTS.stopTimeoutMs);
  t.true(s.disconnect.replace);
});

test('health checks get interval, timeout, retries and start period defaults', (t) => {
  const s = normalizeTaskSpec({ command: ['node', 'x.js'], health: { http: { path: '/', port: 7777 }, retries: 2 } });
  t.deepEqual(s.health, { http: { path: '/', port: 7777 }, intervalMs: 5000, timeoutMs: 2000, retries: 2, startPeriodMs: 0 });
});

const bad: [string, unknown, string][] = [
  ['neither image nor command', {}, 'image'],
  ['a bad restart policy', { image: 'x', restart: { policy: 'sometimes' } }, 'restart.policy'],
  ['a port out of range', { image: 'x', ports: [{ container: 70000 }] }, 'ports.0.container'],
  ['an unknown field', { image: 'x', imagee: 'y' }, '(root)'],
  ['a health check without a probe', { image: 'x', health: { intervalMs: 10 } }, 'health'],
  ['a bad env name', { image: 'x', env: { 'A-B': '1' } }, 'env.A-B'],
  ['backoff max below initial', { image: 'x', restart: { backoff: { initialMs: 10, maxMs: 5 } } }, 'restart.backoff.maxMs'],
];
for (const [name, input, field] of bad) {
  test(`refused, naming the field: ${name}`, (t) => {
    const err = t.throws(() => normalizeTaskSpec(input), { instanceOf: GoatError });
    t.is(err?.code, 'GOAT_ERR_INVALID_SPEC');
    t.is(err?.details['field'], field);
  });
}

test('a spec no worker could start is refused: NUL in env, command or image; one host port twice', (t) => {
  const bad: [unknown, string][] = [
    [{ command: ['x'], env: { A: 'a\0b' } }, 'env.A'],
    [{ command: ['x', 'y\0'] }, 'command.1'],
    [{ image: 'goat/echo\0' }, 'image'],
    [{ image: 'i', ports: [{ host: 8080, container: 80 }, { host: 8080, container: 81 }] }, 'ports.1.host'],
  ];
  for (const [spec, field] of bad) {
    const err = t.throws(() => normalizeTaskSpec(spec), { instanceOf: GoatError });
    t.is(err?.code, 'GOAT_ERR_INVALID_SPEC');
    t.is(err?.details['field'], field);
  }
  // The same container port on two host ports, and ports without a host port, are fine.
  t.notThrows(() => normalizeTaskSpec({ image: 'i', ports: [{ host: 8080, container: 80 }, { host: 8081, container: 80 }, { container: 80 }, { container: 80 }] }));
});
