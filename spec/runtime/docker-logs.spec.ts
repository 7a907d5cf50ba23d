// Docker's multiplexed log format, split into stdout and stderr tails.
import test from 'ava';
import { demuxDockerLogs, dockerLogTail } from '../../lib/runtime/docker-logs.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

test('frames are split by stream', (t) => {
  const buffer = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\nout 3\n')]);
  t.deepEqual(demuxDockerLogs(buffer), { stdout: 'out 1\nout 2\nout 3\n', stderr: 'err 1\n' });
  t.deepEqual(dockerLogTail(buffer, 2), { stdout: ['out 2', 'out 3'], stderr: ['err 1'] });
});

test('unframed output (a TTY container) counts as stdout', (t) => {
  t.deepEqual(demuxDockerLogs(Buffer.from('plain text\n')), { stdout: 'plain text\n', stderr: '' });
  t.deepEqual(dockerLogTail(Buffer.alloc(0), 5), { stdout: [], stderr: [] });
});
