/**
 * lib/config — `cluster.config.ts`: its types and `defineConfig`, and the
 * loader the CLI uses (TypeScript without a build step, `GOAT_*` overrides,
 * errors naming the file and the field).
 */
export { defineConfig, type GoatConfig, type ClusterSection, type ManagerSection, type WorkerSection, type ServicesContext } from './types.js';
export { loadConfig, resolveConfig, CONFIG_FILE, type ResolvedConfig } from './load.js';
