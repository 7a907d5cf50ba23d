#!/usr/bin/env node
// Builds the test and demo images with the local Docker engine and no
// registry: goat/echo:latest and goat/faulty:latest. Each is FROM scratch
// with this machine's node binary, the shared libraries `ldd` lists for it
// (same paths as on the host) and the app folder (images/<app>/) as /app.
// The build context is streamed as a tar; nothing is pulled.
//
// Idempotent: an image is rebuilt only when its source hash (app files,
// Dockerfile, node binary and libraries) differs from the hash recorded in its
// `goat.image.source` label.
//
//   node images/build.mjs [--force] [--quiet] [echo] [faulty]     (npm run images)
//   --force rebuilds without the build cache even when the image is up to date.
//
// Also a module: the tests call buildImages() so they use the same builder.
import Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import process from 'node:process';
import console from 'node:console';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nodeRootfsFiles } from './lib/node-rootfs.mjs';
import { tarStream } from './lib/tar.mjs';

/** The images this script builds: app folder name → image tag. */
export const IMAGES = { echo: 'goat/echo:latest', faulty: 'goat/faulty:latest' };

/** The label that records which sources an image was built from. */
export const SOURCE_LABEL = 'goat.image.source';

const BUILDER_VERSION = '1';
const IMAGES_DIR = fileURLToPath(new URL('.', import.meta.url));

/** The Dockerfile for an app whose entrypoint is /app/server.js. */
function dockerfile(nodePath, app, hash) {
  return [
    'FROM scratch',
    'COPY rootfs/ /', // identical for every app, so the layer is built once and shared
    'COPY app/ /app/',
    'WORKDIR /app',
    'EXPOSE 7777',
    `ENTRYPOINT ["${nodePath}", "/app/server.js"]`,
    `LABEL ${SOURCE_LABEL}="${hash}" goat.image.app="${app}"`,
    '',
  ].join('\n');
}

/** Every file under `dir`, as sorted relative POSIX paths. */
async function listFiles(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)).split(sep).join('/'))
    .sort();
}

/** Every directory an image path lives under, parents first ("a/b/c" → "a", "a/b"). */
function parentDirs(paths) {
  const dirs = new Set();
  for (const path of paths) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort();
}

/** What a build of `app` needs: its context entries and its source hash. */
async function plan(app, appDir) {
  const rootfs = await nodeRootfsFiles();
  const appFiles = await listFiles(appDir);
  if (!appFiles.includes('server.js')) throw new Error(`${appDir} has no server.js`);
  const hash = createHash('sha256');
  hash.update(`builder ${BUILDER_VERSION}\nnode ${process.version}\n`);
  for (const file of rootfs) {
    const info = await stat(file.hostPath);
    hash.update(`rootfs ${file.imagePath} ${file.hostPath} ${info.size} ${info.mtimeMs}\n`);
  }
  const contents = [];
  for (const file of appFiles) {
    const content = await readFile(join(appDir, file));
    contents.push({ path: `app/${file}`, content });
    hash.update(`app ${file} ${content.length}\n`).update(content);
  }
  hash.update(dockerfile(rootfs[0].imagePath, app, ''));
  const digest = hash.digest('hex').slice(0, 32);
  const rootfsPaths = rootfs.map((file) => `rootfs${file.imagePath}`);
  const entries = [
    { path: 'Dockerfile', content: dockerfile(rootfs[0].imagePath, app, digest) },
    ...parentDirs([...rootfsPaths, ...contents.map((c) => c.path)]).map((path) => ({ path, dir: true })),
    ...rootfs.map((file, i) => ({ path: rootfsPaths[i], source: file.hostPath })),
    ...contents,
  ];
  return { entries, hash: digest };
}

/** The image's inspect data, or undefined when it does not exist. */
async function inspectImage(docker, tag) {
  try {
    return await docker.getImage(tag).inspect();
  } catch (err) {
    if (err?.statusCode === 404) return undefined;
    throw err;
  }
}

/** Runs one build and resolves when the engine has finished it (rejects on a build error). */
async function runBuild(docker, context, tag, log, force) {
  const stream = await docker.buildImage(context, { t: tag, rm: true, forcerm: true, nocache: force });
  await new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err, events) => {
        const failed = err ?? events.find((event) => event.error);
        if (failed) reject(new Error(`docker build ${tag} failed: ${failed.error ?? failed.message ?? failed}`));
        else resolve();
      },
      (event) => {
        const line = event.stream?.trimEnd();
        if (line && log) log(line);
      },
    );
  });
}

/**
 * Builds `tag` from the app folder `appDir` unless an image with the same
 * source hash exists. Resolves to `{ tag, status: 'built'|'up-to-date', id, sizeMb, ms }`.
 */
export async function buildAppImage({ docker = new Docker(), tag, appDir, force = false, log }) {
  const started = Date.now();
  const app = appDir.split(sep).filter(Boolean).pop();
  const { entries, hash } = await plan(app, appDir);
  const before = await inspectImage(docker, tag);
  if (!force && before?.Config?.Labels?.[SOURCE_LABEL] === hash) {
    return { tag, status: 'up-to-date', id: before.Id, sizeMb: Math.round(before.Size / 2 ** 20), ms: Date.now() - started };
  }
  await runBuild(docker, tarStream(entries), tag, log, force);
  const after = await inspectImage(docker, tag);
  if (!after || after.Config?.Labels?.[SOURCE_LABEL] !== hash) throw new Error(`docker build ${tag}: image missing after build`);
  if (before && before.Id !== after.Id) {
    // The old image lost its tag; drop it unless a container still uses it.
    await docker.getImage(before.Id).remove().catch(() => undefined);
  }
  return { tag, status: 'built', id: after.Id, sizeMb: Math.round(after.Size / 2 ** 20), ms: Date.now() - started };
}

/** Builds (or confirms) the named images (default: all of {@link IMAGES}), one after the other. */
export async function buildImages({ docker = new Docker(), apps = Object.keys(IMAGES), force = false, log } = {}) {
  const results = [];
  for (const app of apps) {
    const tag = IMAGES[app];
    if (!tag) throw new Error(`unknown image "${app}"; known: ${Object.keys(IMAGES).join(', ')}`);
    results.push(await buildAppImage({ docker, tag, appDir: join(IMAGES_DIR, app), force, log }));
  }
  return results;
}

async function main(argv) {
  const force = argv.includes('--force');
  const quiet = argv.includes('--quiet');
  const apps = argv.filter((arg) => !arg.startsWith('--'));
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (err) {
    console.error(`images: the Docker engine does not answer (${err.message}); start dockerd first`);
    return 1;
  }
  const results = await buildImages({ docker, apps: apps.length ? apps : undefined, force, log: quiet ? undefined : (line) => console.log(`  ${line}`) });
  for (const r of results) console.log(`${r.tag}: ${r.status} in ${r.ms} ms (${r.id.slice(7, 19)}, ${r.sizeMb} MB)`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`images: ${err.message}`);
      process.exit(1);
    },
  );
}
