// The files a FROM scratch image needs to run this machine's node binary:
// the binary itself and every shared library `ldd` lists for it (the dynamic
// loader included), each at the same absolute path it has on the host.
import { execFile } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import process from 'node:process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Parses `ldd` output into the absolute library paths it names (vdso lines have none). */
export function parseLdd(output) {
  const paths = [];
  for (const line of output.split('\n')) {
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (match) paths.push(match[1]);
  }
  return paths;
}

/**
 * `[{ imagePath, hostPath }]` for the node binary running this script and its
 * libraries; `hostPath` is the resolved file (symlinks followed) to copy.
 */
export async function nodeRootfsFiles(nodeBinary = process.execPath) {
  const binary = await realpath(nodeBinary);
  const { stdout } = await run('ldd', [binary]);
  const libraries = parseLdd(stdout);
  if (libraries.length === 0) throw new Error(`ldd listed no libraries for ${binary}; is it a dynamic ELF binary?`);
  const files = [{ imagePath: binary, hostPath: binary }];
  for (const library of libraries) files.push({ imagePath: library, hostPath: await realpath(library) });
  return files;
}
