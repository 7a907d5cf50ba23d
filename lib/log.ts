/** Logging: consola by default; anything with `info` and `warn` can stand in (tests pass a silent one). */

/** What Goat's components log through. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}
