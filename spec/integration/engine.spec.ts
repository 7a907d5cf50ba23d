/**
 * The Docker engine CI starts (.ci/run) answers: the ground every Docker test
 * stands on. Skips without an engine on a developer's machine; fails under CI=true.
 */
import test from 'ava';
import Docker from 'dockerode';

const docker = new Docker();
const reachable = await docker.ping().then(() => true, () => false);
const ci = process.env['CI'] === 'true';

if (!reachable && ci) {
  test('a Docker engine answers under CI', (t) => {
    t.fail('CI=true but no Docker engine answers on /var/run/docker.sock: .ci/run should have started dockerd');
  });
}

(reachable ? test : test.skip)('the Docker engine answers with its version and API', async (t) => {
  const version = await docker.version();
  t.regex(version.Version, /^\d+\.\d+/);
  t.regex(version.ApiVersion, /^1\.\d+$/);
  const info = await docker.info();
  t.is(typeof info.DockerRootDir, 'string');
});
