/**
 * Docker test support: whether the engine answers (in CI it must: the docker
 * tests then fail loudly instead of being skipped), the images built once
 * through the same builder as `npm run images`, and cleanup by cluster label.
 */
import test from 'ava';
import Dockerode from 'dockerode';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './repo.js';

/** The engine the tests use (the default local socket). */
export const docker = new Dockerode();

async function engineAnswers(): Promise<string | undefined> {
  try {
    await (docker as unknown as { ping(o: { abortSignal: AbortSignal }): Promise<unknown> }).ping({ abortSignal: AbortSignal.timeout(2000) });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const problem = await engineAnswers();

/** True when the Docker engine answers. */
export const dockerUp = problem === undefined;

/** True when CI requires every test to run. */
const inCI = process.env['CI'] === 'true';

if (!dockerUp && !inCI) {
  console.warn(`docker tests skipped: the Docker engine does not answer (${problem}); start dockerd to run them`);
}

/** True when the docker tests run: the engine answers, or CI requires them (they then fail on the missing engine). */
export const runDockerTests = dockerUp || inCI;

/** `test` when {@link runDockerTests}, else `test.skip`; register hooks only `if (runDockerTests)`. */
export const dockerTest = runDockerTests ? test : test.skip;

/** Fails loudly in CI when the engine is missing; call in a `test.before`. */
export function requireEngine(): void {
  if (!dockerUp) throw new Error(`CI=true but the Docker engine does not answer (${problem}); the docker tests cannot run`);
}

/** What images/build.mjs exports (it is plain JS, outside the TypeScript build). */
export interface ImageBuilder {
  IMAGES: Record<string, string>;
  buildImages(options?: { docker?: Dockerode; apps?: string[]; force?: boolean }): Promise<BuildResult[]>;
  buildAppImage(options: { docker?: Dockerode; tag: string; appDir: string; force?: boolean }): Promise<BuildResult>;
}

/** One image the builder built or found up to date. */
export interface BuildResult {
  tag: string;
  status: 'built' | 'up-to-date';
  id: string;
  sizeMb: number;
  ms: number;
}

/** The image builder of `npm run images`. */
export async function imageBuilder(): Promise<ImageBuilder> {
  return (await import(pathToFileURL(join(ROOT, 'images', 'build.mjs')).href)) as ImageBuilder;
}

/** Force-removes every container labelled with `cluster`. */
export async function removeClusterContainers(cluster: string): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`goat.cluster=${cluster}`] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  return containers.length;
}
