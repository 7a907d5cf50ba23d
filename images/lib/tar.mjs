// A minimal ustar writer: enough to stream a Docker build context (regular
// files and directories, paths up to 255 bytes) without a tar dependency and
// without copying the files into a temporary folder first.
import { Buffer } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';

const BLOCK = 512;
const FIXED_MTIME = 946684800; // 2000-01-01: a stable context gives stable build cache keys

/** Splits a path into the ustar `prefix` and `name` fields. */
function splitPath(path) {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  const cut = path.lastIndexOf('/', path.length - 2);
  const prefix = path.slice(0, cut);
  const name = path.slice(cut + 1);
  if (cut <= 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(name) > 100) {
    throw new Error(`tar: path too long for ustar: ${path}`);
  }
  return { prefix, name };
}

/** One 512-byte ustar header. */
function header({ path, size, mode, type }) {
  const block = Buffer.alloc(BLOCK, 0);
  const { prefix, name } = splitPath(path);
  const octal = (value, width) => value.toString(8).padStart(width - 1, '0') + '\0';
  block.write(name, 0, 100);
  block.write(octal(mode & 0o7777, 8), 100);
  block.write(octal(0, 8), 108); // uid
  block.write(octal(0, 8), 116); // gid
  block.write(octal(size, 12), 124);
  block.write(octal(FIXED_MTIME, 12), 136);
  block.write('        ', 148); // checksum placeholder: eight spaces
  block.write(type, 156);
  block.write('ustar\0', 257);
  block.write('00', 263);
  block.write(prefix, 345, 155);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return block;
}

/**
 * A tar stream of `entries`, in order: `{ path, dir: true }` for a directory,
 * `{ path, content: Buffer|string }` or `{ path, source: hostFile }` for a file
 * (a source is followed if it is a symlink; its mode is kept unless `mode` is given).
 */
export function tarStream(entries) {
  async function* generate() {
    for (const entry of entries) {
      if (entry.dir) {
        yield header({ path: entry.path.replace(/\/?$/, '/'), size: 0, mode: entry.mode ?? 0o755, type: '5' });
        continue;
      }
      if (entry.content !== undefined) {
        const content = Buffer.from(entry.content);
        yield header({ path: entry.path, size: content.length, mode: entry.mode ?? 0o644, type: '0' });
        yield content;
        if (content.length % BLOCK) yield Buffer.alloc(BLOCK - (content.length % BLOCK));
        continue;
      }
      const info = await stat(entry.source);
      yield header({ path: entry.path, size: info.size, mode: entry.mode ?? info.mode, type: '0' });
      let written = 0;
      for await (const chunk of createReadStream(entry.source)) {
        written += chunk.length;
        yield chunk;
      }
      if (written !== info.size) throw new Error(`tar: ${entry.source} changed size while being read`);
      if (info.size % BLOCK) yield Buffer.alloc(BLOCK - (info.size % BLOCK));
    }
    yield Buffer.alloc(BLOCK * 2); // end of archive
  }
  return Readable.from(generate(), { objectMode: false });
}
