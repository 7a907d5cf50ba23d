import test from 'ava';
import superjson from 'superjson';
import { GoatError, isGoatError } from '../../lib/errors.js';
import { normalizeTaskSpec } from '../../lib/model/index.js';
import { decodeFrame, encodeFrame, FRAME_TYPES, type FrameType } from '../../transport/frames.js';
import { helloBody } from './helpers.js';

const lastExit = { code: 1, signal: null, oomKilled: false, message: 'exit 1', finishedAt: 1_700_000_000_000 };

test('every frame type round-trips through encode and decode', (t) => {
  const bodies: { [K in FrameType]: unknown } = {
    hello: helloBody('n1', [{ taskId: 'web.0.abc', service: 'web', slot: 0, generation: 2, state: 'running', restarts: 1, lastExit }]),
    heartbeat: { seq: 3, usage: { tasks: 1, memoryMb: 12.5, cpuSeconds: 0.3 } },
    report: { tasks: [{ taskId: 'web.0.abc', service: 'web', slot: 0, generation: 2, state: 'exited', restarts: 1 }] },
    ack: { cmdId: 'c1', applied: true },
    welcome: { nodeId: 'n1', heartbeatMs: 1000, epoch: 4 },
    heartbeat_ack: { seq: 3 },
    assign: { cmdId: 'c2', task: { taskId: 'web.0.abc', service: 'web', slot: 0, generation: 2, spec: { command: ['node', 'app.js'] } } },
    stop: { cmdId: 'c3', taskId: 'web.0.abc', generation: 2, epoch: 7 },
    redirect: { url: 'ws://127.0.0.1:7071/v1/link', leaderId: 'm2', epoch: 7 },
    no_leader: { retryAfterMs: 500 },
    tree_snapshot: { seq: 1, nodes: [{ path: '/cluster/worker', parent: null, index: 0, id: 'worker', kind: 'supervisor', status: 'running', restarts: 0, nextRestartAt: null, lastError: null, strategy: 'rest_for_one' }] },
    tree_delta: { seq: 2, upserts: [{ path: '/cluster/worker/runtime', parent: '/cluster/worker', index: 0, id: 'runtime', kind: 'worker', status: 'restarting', restarts: 1, nextRestartAt: 1_700_000_000_500, lastError: { name: 'GoatError', message: 'gone', code: 'GOAT_ERR_RUNTIME_UNAVAILABLE' } }], removes: ['/cluster/worker/tasks/old'] },
    admin: { op: 'ask', path: '/cluster/worker/runtime', message: { type: '$info' }, timeoutMs: 5000 },
    admin_result: { ok: false, error: { code: 'GOAT_ERR_NO_SUCH_CHILD', message: 'no actor at /worker/x' } },
    error: { code: 'GOAT_ERR_BAD_FRAME', message: 'nope' },
    logs_open: { streamId: 's1', taskId: 'web.0.abc', generation: 2, tail: 10, since: 1_700_000_000_000, follow: true, credit: 1000 },
    logs_credit: { streamId: 's1', lines: 500 },
    logs_cancel: { streamId: 's1' },
    logs_data: { streamId: 's1', lines: [{ s: 'o', t: 1_700_000_000_001, x: 'hello' }, { s: 'e', t: 1_700_000_000_002, x: 'oops' }], dropped: 3 },
    logs_end: { streamId: 's1', reason: 'error', code: 'GOAT_ERR_NO_SUCH_TASK', message: 'gone' },
  };
  for (const [type, body] of Object.entries(bodies) as [FrameType, never][]) {
    const frame = decodeFrame(encodeFrame(type, body, { re: 'prev' }));
    if (frame instanceof GoatError) return t.fail(`${type}: ${frame.message}`);
    t.is(frame.type, type);
    t.is(frame.v, 1);
    t.is(frame.re, 'prev');
    if (type !== 'assign') t.deepEqual(frame.body, body, type);
  }
});

test('an assign frame carries a normalized task spec, and a normalized spec is accepted as is', (t) => {
  const spec = normalizeTaskSpec({ image: 'busybox', ports: [{ container: 80 }] });
  t.is(spec.health, null);
  const frame = decodeFrame(encodeFrame('assign', { cmdId: 'c', task: { taskId: 't', service: 's', slot: 0, generation: 1, spec } }), 'toWorker');
  if (frame instanceof GoatError || frame.type !== 'assign') return t.fail(String(frame));
  t.deepEqual(frame.body.task.spec, spec);
});

test('decodeFrame never throws and names what is wrong', (t) => {
  const cases: [string, RegExp][] = [
    ['{not json', /not superjson/],
    ['null', /not superjson|envelope/],
    ['42', /envelope/],
    [JSON.stringify({ json: { v: 1, id: 'x', type: 'hello' } }), /envelope: body: /],
    [superjson.stringify({ v: 2, id: 'x', type: 'heartbeat', body: {} }), /v: unsupported version 2/],
    [superjson.stringify({ v: 1, id: 'x', type: 'teleport', body: {} }), /type: unknown frame type "teleport"/],
    [superjson.stringify({ v: 1, id: 'x', type: 'heartbeat', body: { seq: -1, usage: { tasks: 0, memoryMb: 0, cpuSeconds: 0 } } }), /heartbeat body: body\.seq: /],
    [superjson.stringify({ v: 1, id: 'x', type: 'hello', body: { ...helloBody(), capacity: { cpus: 'two', memoryMb: 1 } } }), /body\.capacity\.cpus/],
    [superjson.stringify({ v: 1, id: 'x', type: 'ack', body: { cmdId: 'c', applied: true, extra: 1 } }), /Unrecognized key/],
    [superjson.stringify({ v: 1, id: 'x', type: 'assign', body: { cmdId: 'c', task: { taskId: 't', service: 's', slot: 0, generation: 1, spec: { env: {} } } } }), /body\.task\.spec\.image: give an image or a command/],
    [superjson.stringify({ v: 1, id: 'x', type: 'stop', body: { cmdId: 'c', taskId: 't', generation: new Date() } }), /body\.generation/],
    [JSON.stringify({ json: { a: 1 }, meta: { values: { a: [['custom', 'zz']] } } }), /not superjson/],
    [JSON.stringify({ json: { a: 1 }, meta: { values: { '__proto__.x': ['undefined'] } } }), /not superjson/],
    ['{"json":{"v":1,"id":"x","type":"ack","body":{"cmdId":"c","applied":true,"__proto__":{"applied":false}}}}', /Unrecognized key/],
  ];
  for (const [text, pattern] of cases) {
    const result = decodeFrame(text);
    t.true(isGoatError(result, 'GOAT_ERR_BAD_FRAME'), text);
    t.regex((result as GoatError).message, pattern, text);
  }
});

test('the id of a bad frame is kept in details.re so an error frame can answer it', (t) => {
  const result = decodeFrame(superjson.stringify({ v: 1, id: 'frame-7', type: 'heartbeat', body: {} }));
  t.true(result instanceof GoatError);
  t.is((result as GoatError).details.re, 'frame-7');
});

test('with a direction, a frame meant for the other side is an unknown type', (t) => {
  const assign = encodeFrame('welcome', { nodeId: 'n', heartbeatMs: 1000, epoch: 0 });
  t.false(decodeFrame(assign, 'toWorker') instanceof GoatError);
  const err = decodeFrame(assign, 'toManager');
  t.true(isGoatError(err, 'GOAT_ERR_BAD_FRAME'));
  t.regex((err as GoatError).message, /unknown frame type "welcome"/);
  t.deepEqual([...FRAME_TYPES.toManager].sort(), ['ack', 'admin_result', 'error', 'heartbeat', 'hello', 'logs_data', 'logs_end', 'report', 'tree_delta', 'tree_snapshot']);
});

test('encodeFrame refuses a body its receiver would reject', (t) => {
  const err = t.throws(() => encodeFrame('heartbeat', { seq: 1.5, usage: { tasks: 0, memoryMb: 0, cpuSeconds: 0 } }));
  t.true(isGoatError(err, 'GOAT_ERR_BAD_FRAME'));
  t.regex(err?.message ?? '', /heartbeat body: seq/);
});
