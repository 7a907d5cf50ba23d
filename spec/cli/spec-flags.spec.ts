/** lib/cli/spec-flags.ts: `run` and `update` turn the same flags into the same spec; `update` sends only the flags given. */
import test from 'ava';
import { parseArgs } from 'node:util';
import { isGoatError } from '../../lib/errors.js';
import { runBody, type CommandContext } from '../../lib/cli/commands.js';
import { UPDATE_OPTIONS, updateBody } from '../../lib/cli/rollout.js';
import { SPEC_OPTIONS, specFromFlags } from '../../lib/cli/spec-flags.js';

function parse(argv: string[], options: NonNullable<Parameters<typeof parseArgs>[0]>['options']): CommandContext {
  const { values, positionals } = parseArgs({ args: argv, options: options!, allowPositionals: true, strict: true });
  return { args: positionals, values: values as CommandContext['values'] } as CommandContext;
}

const FLAGS = ['--image', 'goat/echo', '--command', 'serve --port "7 7"', '-p', '8080:7777', '-p', '9000', '-e', 'A=1', '-e', 'B=x=y',
  '--restart', 'always', '--health-http', '/healthz', '--cpu', '0.5', '--memory', '64', '--replicas', '3'];

test('run and update make the same task from the same flags', (t) => {
  const run = runBody(parse(['web', ...FLAGS], SPEC_OPTIONS));
  const update = updateBody(parse(['web', ...FLAGS], UPDATE_OPTIONS), { task: {} });
  const task = {
    image: 'goat/echo', command: ['serve', '--port', '7 7'], ports: [{ host: 8080, container: 7777 }, { container: 9000 }], env: { A: '1', B: 'x=y' },
    restart: { policy: 'always' }, health: { http: { path: '/healthz', port: 7777 } }, resources: { cpu: 0.5, memoryMb: 64 },
  };
  t.deepEqual(run, { name: 'web', replicas: 3, task });
  t.deepEqual(update, { replicas: 3, task });
});

test('update sends only the flags given; --health-http uses the service\'s port when -p is not given', (t) => {
  t.deepEqual(updateBody(parse(['web', '-e', 'A=2'], UPDATE_OPTIONS), { task: { ports: [{ container: 7777 }] } }), { task: { env: { A: '2' } } });
  t.deepEqual(updateBody(parse(['web', '--replicas', '0'], UPDATE_OPTIONS), { task: {} }), { replicas: 0 });
  t.deepEqual(updateBody(parse(['web', '--health-http', '/h', '--update-parallelism', '2', '--update-order', 'start-first'], UPDATE_OPTIONS), { task: { ports: [{ container: 7777 }] } }),
    { task: { health: { http: { path: '/h', port: 7777 } } }, update: { parallelism: 2, order: 'start-first' } });
  t.deepEqual(runBody(parse(['web', '--image', 'i'], SPEC_OPTIONS)), { name: 'web', replicas: 1, task: { image: 'i' } });
});

test('bad flags are usage errors that name the flag', (t) => {
  const usage = (f: () => unknown, re: RegExp): void => {
    const err = t.throws(f);
    t.true(isGoatError(err, 'GOAT_ERR_USAGE'), String(err));
    t.regex(err!.message, re);
  };
  usage(() => specFromFlags({ publish: ['80:x'] }), /-p wants HOST:CONTAINER or CONTAINER, got '80:x'/);
  usage(() => specFromFlags({ env: ['=1'] }), /-e wants K=V, got '=1'/);
  usage(() => specFromFlags({ cpu: 'lots' }), /--cpu wants a number, got 'lots'/);
  usage(() => specFromFlags({ replicas: '' }), /--replicas wants a number/);
  usage(() => specFromFlags({ 'health-http': '/h' }), /--health-http needs a port \(-p\)/);
  usage(() => runBody(parse(['web', '-e', 'A=1'], SPEC_OPTIONS)), /run needs --image I .* or --command/);
  usage(() => updateBody(parse(['web'], UPDATE_OPTIONS), { task: {} }), /update needs at least one flag/);
});
