/**
 * A small typed event emitter: one argument per event, listeners added with
 * `on` (which returns the function that removes them). A throwing listener
 * never unwinds the link that emits: its error is rethrown on a later tick
 * (like the supervision EventBus and xstate's reportUnhandledError).
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(arg: never) => void>>();

  /** Adds a listener for `event`; returns the function that removes it. */
  on<K extends keyof Events>(event: K, listener: (arg: Events[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as (arg: never) => void);
    return () => this.off(event, listener);
  }

  /** Removes a listener added with {@link on}. */
  off<K extends keyof Events>(event: K, listener: (arg: Events[K]) => void): void {
    this.#listeners.get(event)?.delete(listener as (arg: never) => void);
  }

  /** Calls every listener of `event` with `arg`. */
  protected emit<K extends keyof Events>(event: K, arg: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (arg: Events[K]) => void)(arg);
      } catch (err) {
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }
}
