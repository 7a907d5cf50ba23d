// The image builder (`npm run images`): idempotent, and rebuilding when the
// app source changes. Needs the Docker engine (skipped without one, except in CI).
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { docker, dockerTest, runDockerTests, imageBuilder, requireEngine } from './helpers/docker.js';
import { ECHO_SERVER } from './helpers/repo.js';
import { TEST_CLUSTER, removeTempDataDirs, tempDataDir } from './helpers/tasks.js';

const TEST_TAG = `goat/${TEST_CLUSTER.toLowerCase()}:latest`;

if (runDockerTests) {
  test.before(() => requireEngine());
  test.after.always(async () => {
    await docker.getImage(TEST_TAG).remove({ force: true }).catch(() => undefined);
    await removeTempDataDirs();
  });
}

dockerTest('building the images twice builds nothing the second time', async (t) => {
  const builder = await imageBuilder();
  await builder.buildImages({ docker });
  const again = await builder.buildImages({ docker });
  t.deepEqual(
    again.map((r) => [r.tag, r.status]),
    [
      ['goat/echo:latest', 'up-to-date'],
      ['goat/faulty:latest', 'up-to-date'],
    ],
  );
  const echo = await docker.getImage('goat/echo:latest').inspect();
  t.is(echo.Config.Labels?.['goat.image.app'], 'echo');
  t.deepEqual(echo.Config.Entrypoint, [echo.Config.Entrypoint?.[0], '/app/server.js']);
});

dockerTest('changing the app source rebuilds the image', async (t) => {
  const builder = await imageBuilder();
  const appDir = join(await tempDataDir(), 'app');
  await cp(join(ECHO_SERVER, '..'), appDir, { recursive: true });
  const first = await builder.buildAppImage({ docker, tag: TEST_TAG, appDir });
  t.is(first.status, 'built');
  t.is((await builder.buildAppImage({ docker, tag: TEST_TAG, appDir })).status, 'up-to-date');
  await writeFile(join(appDir, 'extra.txt'), 'changed\n');
  const second = await builder.buildAppImage({ docker, tag: TEST_TAG, appDir });
  t.is(second.status, 'built');
  t.not(second.id, first.id);
  t.is((await docker.getImage(TEST_TAG).inspect()).Id, second.id);
});
