/** Running a command inside a task instance, for exec health checks. */
import { execFile } from 'node:child_process';
import type Dockerode from 'dockerode';
import type { ExecResult } from './types.js';

const MAX_OUTPUT = 4096;

/** `docker exec` of `argv` in `container`; resolves with its exit code, or null on timeout or error. */
export async function dockerExec(container: Dockerode.Container, argv: string[], timeoutMs: number): Promise<ExecResult> {
  try {
    const exec = await container.exec({ Cmd: argv, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    let output = '';
    const done = new Promise<void>((resolve) => {
      stream.on('data', (chunk: Buffer) => {
        // Multiplexed frames: an 8-byte header per frame; keep the text, drop headers.
        output += stripFrames(chunk);
        if (output.length > MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
      });
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      done.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      stream.destroy();
      return { code: null, output: `${argv.join(' ')}: no result within ${timeoutMs} ms` };
    }
    const info = await exec.inspect();
    return { code: info.ExitCode ?? null, output };
  } catch (err) {
    return { code: null, output: `${argv.join(' ')}: ${(err as Error).message}` };
  }
}

function stripFrames(chunk: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= chunk.length && (chunk[i] === 1 || chunk[i] === 2) && chunk[i + 1] === 0 && chunk[i + 2] === 0 && chunk[i + 3] === 0) {
    const size = chunk.readUInt32BE(i + 4);
    out += chunk.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return i === 0 ? chunk.toString('utf8') : out + chunk.subarray(Math.min(i, chunk.length)).toString('utf8');
}

/** Runs `argv` on this node in `cwd`; resolves with its exit code, or null on timeout or when it cannot run. */
export function localExec(argv: string[], timeoutMs: number, cwd: string, env: NodeJS.ProcessEnv): Promise<ExecResult> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv;
    execFile(cmd!, args, { timeout: timeoutMs, cwd, env, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`.slice(-MAX_OUTPUT);
      if (!err) return resolve({ code: 0, output });
      const code = typeof (err as { code?: unknown }).code === 'number' && !(err as { killed?: boolean }).killed ? ((err as { code: number }).code) : null;
      resolve({ code, output: output || err.message });
    });
  });
}
