// Engine errors classified: resource failure, program failure, engine down.
import test from 'ava';
import { startError, toGoatError } from '../../lib/runtime/docker-errors.js';

const engineError = (statusCode: number, message: string) => Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });

test('port and disk problems at start are resource failures', (t) => {
  const port = startError(engineError(500, 'driver failed programming external connectivity on endpoint goat-x: Bind for 0.0.0.0:17777 failed: port is already allocated'), 'start', {});
  t.like(port, { code: 'GOAT_ERR_RESOURCE', details: { resource: 'port', port: 17777 } });
  const proxy = startError(engineError(500, 'Error starting userland proxy: listen tcp4 0.0.0.0:18080: bind: address already in use'), 'start', {});
  t.like(proxy, { code: 'GOAT_ERR_RESOURCE', details: { resource: 'port', port: 18080 } });
  t.like(startError(engineError(500, 'write /var/lib/docker/x: no space left on device'), 'start', {}), { details: { resource: 'disk' } });
  t.like(startError(engineError(404, 'No such image: goat/nope:latest'), 'create', {}), { code: 'GOAT_ERR_RESOURCE', details: { resource: 'image' } });
});

test('a program that cannot be executed is a start failure of the task', (t) => {
  const err = startError(engineError(400, 'OCI runtime create failed: exec: "nope": executable file not found in $PATH: unknown'), 'start', {});
  t.is(err.code, 'GOAT_ERR_TASK_START');
});

test('no answer from the engine is temporary unavailability', (t) => {
  const refused = Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' });
  t.like(toGoatError(refused, 'list'), { code: 'GOAT_ERR_RUNTIME_UNAVAILABLE', temporary: true });
  t.like(startError(refused, 'create', {}), { code: 'GOAT_ERR_RUNTIME_UNAVAILABLE' });
  t.like(toGoatError(engineError(500, 'boom'), 'list'), { code: 'GOAT_ERR_RUNTIME', temporary: false, details: { statusCode: 500 } });
});

test('a start error that is not about the program is the engine\'s, temporary', (t) => {
  const err = startError(engineError(500, 'failed to update store for object type *libnetwork.endpoint: open : no such file or directory'), 'start', {});
  t.like(err, { code: 'GOAT_ERR_RUNTIME_UNAVAILABLE', temporary: true });
});
