/**
 * The environment of processes tests start: ours without `GOAT_*` settings
 * (so a developer's GOAT_TOKEN or GOAT_LISTEN cannot change a test), except
 * `GOAT_TEST_RUN`, which marks everything a test run starts so that
 * spec/suite.ts can check nothing is left behind (spec/helpers/leaks.ts).
 */

/** `process.env` without `GOAT_*` except `GOAT_TEST_RUN`, plus `extra`. */
export function testEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GOAT_') || k === 'GOAT_TEST_RUN'));
  return { ...env, ...extra };
}
