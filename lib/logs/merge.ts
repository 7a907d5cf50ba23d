/**
 * Several tasks' log events as one stream, in arrival order (as `docker
 * service logs` shows them). Each source has at most one read outstanding,
 * so the merge keeps each source's own backpressure.
 */

/** Interleaves async iterables as their items arrive; ends when all have ended; `return()` ends them all. */
export function mergeEvents<T>(sources: AsyncIterable<T>[]): AsyncIterableIterator<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<T> }>>();
  const pull = (i: number): void => void pending.set(i, iterators[i]!.next().then((r) => ({ i, r })));
  iterators.forEach((_, i) => pull(i));
  const merged: AsyncIterableIterator<T> = {
    async next() {
      while (pending.size > 0) {
        const { i, r } = await Promise.race(pending.values());
        pending.delete(i);
        if (r.done) continue;
        pull(i);
        return { done: false, value: r.value };
      }
      return { done: true, value: undefined };
    },
    async return() {
      pending.clear();
      await Promise.all(iterators.map((it) => it.return?.().catch(() => undefined)));
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return merged;
    },
  };
  return merged;
}
