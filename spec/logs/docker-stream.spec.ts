/** lib/logs/docker-stream.ts: the one splitter of Docker's log format (followed streams, reads, exit tails). */
import test from 'ava';
import { DockerLogSplitter, dockerLogLines, tailByStream } from '../../lib/logs/index.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

test('frames cut anywhere become whole lines with their stream and the engine time', (t) => {
  const bytes = Buffer.concat([
    frame(1, '2026-11-30T14:00:00.123456789Z hello\n'),
    frame(2, '2026-11-30T14:00:01.000000000Z oops\n'),
    frame(1, '2026-11-30T14:00:02.5Z héllo wörld\n'),
  ]);
  for (const cut of [1, 7, 8, 9, 30, 50, bytes.length - 3]) {
    const s = new DockerLogSplitter();
    const lines = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut)), ...s.end()];
    t.deepEqual(lines, [
      { stream: 'stdout', at: Date.parse('2026-11-30T14:00:00.123Z'), text: 'hello' },
      { stream: 'stderr', at: Date.parse('2026-11-30T14:00:01Z'), text: 'oops' },
      { stream: 'stdout', at: Date.parse('2026-11-30T14:00:02.5Z'), text: 'héllo wörld' },
    ], `cut at ${cut}`);
  }
});

test('an unframed (TTY) stream is stdout, and an unfinished last line comes at the end', (t) => {
  const s = new DockerLogSplitter();
  t.deepEqual(s.push(Buffer.from('2026-11-30T14:00:00Z a\n2026-11-30T14:00:00Z b')).map((l) => l.text), ['a']);
  t.deepEqual(s.end().map((l) => [l.stream, l.text]), [['stdout', 'b']]);
});

test('a whole buffer gives every line; the tail keeps the last N of each stream', (t) => {
  const buffer = Buffer.concat([
    frame(1, '2026-11-30T14:00:00Z out 1\n'), frame(2, '2026-11-30T14:00:01Z err 1\n'),
    frame(1, '2026-11-30T14:00:02Z out 2\n2026-11-30T14:00:03Z out 3\n'), frame(1, '2026-11-30T14:00:04Z unfinished'),
  ]);
  const lines = dockerLogLines(buffer);
  t.deepEqual(lines.map((l) => [l.stream, l.text]), [['stdout', 'out 1'], ['stderr', 'err 1'], ['stdout', 'out 2'], ['stdout', 'out 3'], ['stdout', 'unfinished']]);
  t.deepEqual(tailByStream(lines, 2), { stdout: ['out 3', 'unfinished'], stderr: ['err 1'] });
  t.deepEqual(tailByStream(lines, 0), { stdout: [], stderr: [] });
  t.deepEqual(tailByStream(dockerLogLines(Buffer.alloc(0)), 5), { stdout: [], stderr: [] });
});

test('an unstamped stream (a live follow): every line gets the time its chunk arrived, and a line that starts with a date keeps it', (t) => {
  let clock = 1_000;
  const s = new DockerLogSplitter(false, () => clock);
  t.deepEqual(s.push(Buffer.concat([frame(1, 'one\n2026-11-30T14:00:00Z is text here\r\n'), frame(2, 'par')])), [
    { stream: 'stdout', at: 1_000, text: 'one' },
    { stream: 'stdout', at: 1_000, text: '2026-11-30T14:00:00Z is text here' },
  ]);
  clock = 2_000;
  t.deepEqual(s.push(frame(2, 'tial\n')), [{ stream: 'stderr', at: 2_000, text: 'partial' }]);
});
