// RuntimeTask → Docker create options, and published ports back from inspect data.
import test from 'ava';
import type Dockerode from 'dockerode';
import { isGoatError } from '../../lib/errors.js';
import { containerOptions, publishedPorts } from '../../lib/runtime/docker-spec.js';
import { checkTask } from '../../lib/runtime/identity.js';
import type { RuntimeTask } from '../../lib/runtime/index.js';

const task: RuntimeTask = {
  taskId: 'web.2.abc_DEF-1',
  generation: 4,
  service: 'web',
  slot: 2,
  nodeId: 'n1',
  cluster: 'prod',
  spec: {
    image: 'goat/echo:latest',
    command: ['--flag'],
    env: { A: '1', B: 'x=y' },
    ports: [{ host: 8080, container: 7777 }, { container: 9000 }],
    resources: { cpu: 1.5, memoryMb: 256, diskMb: 10 },
  },
};

test('a task becomes a named, labelled container with ports, env and limits', (t) => {
  const options = containerOptions(task);
  t.is(options.name, 'goat-web.2.abc_DEF-1-g4');
  t.is(options.Image, 'goat/echo:latest');
  t.deepEqual(options.Cmd, ['--flag']);
  t.deepEqual(options.Env, ['A=1', 'B=x=y']);
  t.deepEqual(options.Labels, {
    'goat.cluster': 'prod',
    'goat.task': 'web.2.abc_DEF-1',
    'goat.generation': '4',
    'goat.service': 'web',
    'goat.slot': '2',
    'goat.node': 'n1',
  });
  t.deepEqual(options.ExposedPorts, { '7777/tcp': {}, '9000/tcp': {} });
  t.deepEqual(options.HostConfig?.PortBindings, { '7777/tcp': [{ HostPort: '8080' }], '9000/tcp': [{ HostPort: '' }] });
  t.is(options.HostConfig?.NanoCpus, 1.5e9);
  t.is(options.HostConfig?.Memory, 256 * 1024 * 1024);
  t.is(options.HostConfig?.MemorySwap, 256 * 1024 * 1024);
});

test('no command, limits or ports means none are set (the image decides)', (t) => {
  const options = containerOptions({ ...task, spec: { image: 'goat/echo:latest' } });
  t.false('Cmd' in options);
  t.false('NanoCpus' in (options.HostConfig ?? {}));
  t.false('Memory' in (options.HostConfig ?? {}));
  t.deepEqual(options.HostConfig?.PortBindings, {});
});

test('unusable specs are GOAT_ERR_INVALID_SPEC naming the field', (t) => {
  const field = (bad: RuntimeTask) => {
    const err = t.throws(() => {
      checkTask(bad);
      containerOptions(bad);
    });
    return isGoatError(err, 'GOAT_ERR_INVALID_SPEC') ? err.details['field'] : err?.message;
  };
  t.is(field({ ...task, spec: {} }), 'spec.image');
  t.is(field({ ...task, spec: { image: 'x', ports: [{ container: 70000 }] } }), 'spec.ports[0].container');
  t.is(field({ ...task, spec: { image: 'x', ports: [{ container: 80, host: 0 }] } }), 'spec.ports[0].host');
  t.is(field({ ...task, slot: -1 }), 'slot');
  t.is(field({ ...task, cluster: '' }), 'cluster');
});

test('published ports: live host ports while running, configured ones otherwise, EXPOSE-only ports left out', (t) => {
  const running = {
    NetworkSettings: { Ports: { '7777/tcp': null, '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: '49153' }, { HostIp: '::', HostPort: '49153' }] } },
    HostConfig: { PortBindings: { '8080/tcp': [{ HostPort: '' }] } },
  } as unknown as Dockerode.ContainerInspectInfo;
  t.deepEqual(publishedPorts(running), [{ host: 49153, container: 8080 }]);
  const stopped = {
    NetworkSettings: { Ports: {} },
    HostConfig: { PortBindings: { '8080/tcp': [{ HostPort: '' }], '7777/tcp': [{ HostPort: '17777' }] } },
  } as unknown as Dockerode.ContainerInspectInfo;
  t.deepEqual(publishedPorts(stopped), [{ host: 17777, container: 7777 }, { container: 8080 }]);
});
