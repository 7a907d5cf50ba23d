import test from 'ava';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { followLogFiles, LogKeeper, readLogFiles, rotateFile, type LogLine } from '../../lib/logs/index.js';

async function folder(t: { teardown(fn: () => Promise<void>): void }): Promise<{ root: string; dir: string; files: { stdout: string; stderr: string } }> {
  const root = await mkdtemp(join(tmpdir(), 'goat-logs-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'web.0.abc-g1');
  await writeFile(join(root, '.keep'), '');
  await import('node:fs/promises').then((fs) => fs.mkdir(dir));
  return { root, dir, files: { stdout: join(dir, 'stdout.log'), stderr: join(dir, 'stderr.log') } };
}

test('both outputs are read with the times of their checkpoints, cut by --since and --tail', async (t) => {
  const { root, files } = await folder(t);
  let now = 1_000;
  const keeper = new LogKeeper(root, { maxBytes: 1 << 20, maxFiles: 3 }, 1_000, () => now);
  await writeFile(files.stdout, 'a1\na2\n');
  await writeFile(files.stderr, 'e1\n');
  await keeper.pass();
  now = 2_000;
  await appendFile(files.stdout, 'a3\n');
  await appendFile(files.stderr, 'e2\n');
  await keeper.pass();
  const all = await readLogFiles(files);
  t.deepEqual(all.map((l) => [l.stream, l.at, l.text]), [
    ['stdout', 1_000, 'a1'], ['stdout', 1_000, 'a2'], ['stderr', 1_000, 'e1'], ['stdout', 2_000, 'a3'], ['stderr', 2_000, 'e2'],
  ]);
  t.deepEqual((await readLogFiles(files, { since: 1_500 })).map((l) => l.text), ['a3', 'e2']);
  t.deepEqual((await readLogFiles(files, { tail: 2 })).map((l) => l.text), ['a3', 'e2']);
});

test('rotation keeps at most maxFiles files of about maxBytes each, and reading spans them', async (t) => {
  const { root, files } = await folder(t);
  const keeper = new LogKeeper(root, { maxBytes: 100, maxFiles: 3 }, 1_000);
  for (let round = 0; round < 6; round++) {
    await appendFile(files.stdout, Array.from({ length: 15 }, (_, i) => `r${round}-${String(i).padStart(2, '0')}`).join('\n') + '\n');
    await keeper.pass();
  }
  t.is((await stat(files.stdout)).size, 0, 'the current file was cut');
  t.true((await stat(`${files.stdout}.1`)).size <= 200);
  await t.throwsAsync(stat(`${files.stdout}.3`), undefined, 'no fourth file');
  const lines = (await readLogFiles(files)).map((l) => l.text);
  t.deepEqual(lines.slice(-2), ['r5-13', 'r5-14'], 'the newest lines survive');
  // Rotated after rounds 1, 3 and 5 (each two rounds are over 100 bytes): .2 holds rounds 2-3, .1 rounds 4-5; rounds 0-1 are gone.
  t.is(lines[0], 'r2-00');
  t.is(lines.length, 60);
});

test('following reads appended lines as they come, across a rotation, and ends when the task is not alive', async (t) => {
  const { files } = await folder(t);
  await writeFile(files.stdout, 'old\n');
  let alive = true;
  const reader = followLogFiles(files, { follow: true, tail: 1 }, async () => alive, 20);
  const got: LogLine[] = [];
  const done = (async () => {
    for await (const batch of reader) got.push(...batch);
  })();
  const seen = async (text: string): Promise<void> => {
    for (let i = 0; i < 200 && !got.some((l) => l.text === text); i++) await new Promise((r) => setTimeout(r, 10));
    if (!got.some((l) => l.text === text)) throw new Error(`never saw ${text}: ${JSON.stringify(got)}`);
  };
  await seen('old');
  await appendFile(files.stdout, 'new1\n');
  await seen('new1');
  await appendFile(files.stderr, 'err1\n');
  await seen('err1');
  await appendFile(files.stdout, 'before-rotation\n');
  await rotateFile(files.stdout, 3); // before the follower read it: it is in .1 now
  await appendFile(files.stdout, 'after\n');
  await seen('before-rotation');
  await seen('after');
  alive = false;
  await appendFile(files.stdout, 'last words\n');
  await done;
  t.deepEqual(got.map((l) => l.text), ['old', 'new1', 'err1', 'before-rotation', 'after', 'last words']);
  t.is(got.find((l) => l.text === 'err1')?.stream, 'stderr');
  t.truthy(await readFile(`${files.stdout}.1`, 'utf8'));
});

test('--tail and --since read big files from their ends, across rotated files, with the same lines as a full read', async (t) => {
  const { root, files } = await folder(t);
  let now = 10_000;
  const keeper = new LogKeeper(root, { maxBytes: 1 << 30, maxFiles: 3 }, 1_000, () => now);
  // .1: 200,000 lines (about 2.4 MB), written at 10 s … 29.9 s; the current file: 3 lines at 40 s.
  for (let block = 0; block < 200; block++) {
    await appendFile(files.stdout, Array.from({ length: 1_000 }, (_, i) => `old ${block * 1_000 + i}`).join('\n') + '\n');
    await keeper.pass();
    now += 100;
  }
  await rotateFile(files.stdout, 3);
  now = 40_000;
  await writeFile(files.stdout, 'new 0\nnew 1\nnew 2\n');
  await keeper.pass();
  const full = await readLogFiles(files);
  t.is(full.length, 200_003);
  t.deepEqual(await readLogFiles(files, { tail: 0 }), []);
  t.deepEqual((await readLogFiles(files, { tail: 2 })).map((l) => l.text), ['new 1', 'new 2']);
  t.deepEqual(await readLogFiles(files, { tail: 5 }), full.slice(-5), 'across the rotated file');
  t.deepEqual(await readLogFiles(files, { tail: 50_000 }), full.slice(-50_000), 'a window grown past a line cut');
  t.deepEqual(await readLogFiles(files, { since: 29_000 }), full.filter((l) => l.at >= 29_000));
  t.deepEqual(await readLogFiles(files, { since: 29_500, tail: 3 }), full.slice(-3));
});
