/** A log reader for the log-stream specs: chunks of lines produced as fast as they are pulled. */
import type { LogLine, LogReader } from '../../lib/logs/index.js';
import type { LogOpener } from '../../transport/logs-worker.js';

/** A reader yielding `chunks` chunks of `per` lines each (texts `line N`), with `gap` between chunks; forever when chunks is Infinity. */
export function lineSource(chunks: number, per: number, gap: 'microtask' | 'immediate', text = (i: number) => `line ${i}`): { opener: LogOpener; produced: () => number } {
  let produced = 0;
  const opener: LogOpener = async () => {
    let closed = false;
    const reader: LogReader = {
      close: () => void (closed = true),
      async *[Symbol.asyncIterator]() {
        for (let c = 0; c < chunks && !closed; c++) {
          yield Array.from({ length: per }, (): LogLine => ({ stream: 'stdout', at: 1, text: text(produced++) }));
          if (gap === 'immediate') await new Promise((r) => setImmediate(r));
        }
      },
    };
    return reader;
  };
  return { opener, produced: () => produced };
}

