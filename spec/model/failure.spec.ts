import test from 'ava';
import { classifyError, classifyExit } from '../../lib/model/index.js';

const exit = (code: number | null, oomKilled = false, signal: string | null = null) => ({ code, signal, oomKilled, message: `exited with code ${code}` });

test('a clean exit is no failure; non-zero and signals are app failures', (t) => {
  t.is(classifyExit(exit(0)), null);
  t.is(classifyExit(exit(3))?.kind, 'app');
  t.is(classifyExit(exit(137, false, 'SIGKILL'))?.kind, 'app');
  t.is(classifyExit(exit(null))?.kind, 'app');
});

test('an OOM kill is a resource failure', (t) => {
  const f = classifyExit(exit(137, true));
  t.is(f?.kind, 'resource');
  t.regex(f?.message ?? '', /memory limit/);
});

test('errors are classified by their code', (t) => {
  t.deepEqual(classifyError({ code: 'GOAT_ERR_RESOURCE', message: 'no disk' }), { kind: 'resource', message: 'no disk', code: 'GOAT_ERR_RESOURCE' });
  t.is(classifyError({ code: 'GOAT_ERR_TASK_UNHEALTHY', message: 'x' }).kind, 'health');
  t.is(classifyError({ code: 'GOAT_ERR_RUNTIME_UNAVAILABLE', message: 'x' }).kind, 'runtime');
  t.is(classifyError({ message: 'boom' }).kind, 'app');
});
