/**
 * The example cluster that `npx goat-cluster start` runs from this folder:
 * the seeds' echo API on :7777 (`curl -X POST localhost:7777/ -d '{"Msg":"Hello, world!"}'`),
 * as the `goat/echo` container where a Docker engine answers (built on first
 * use), as the same program in a local process where none does.
 */
import { defineConfig } from 'goat-cluster';

const port = [{ host: 7777, container: 7777 }];
const health = { http: { path: '/', port: 7777 }, intervalMs: 5_000, timeoutMs: 2_000, retries: 3 };

export default defineConfig({
  cluster: { name: 'goat' },
  manager: { listen: '127.0.0.1:7070', dataDir: '.goat' },
  // allowProcess: without Docker, run the echo as a local process (an explicit opt-in; see the README's security section).
  worker: { runtime: 'auto', name: 'local', allowProcess: true },
  services: ({ runtime }) => [
    runtime === 'docker'
      ? { name: 'echo', replicas: 1, task: { image: 'goat/echo', ports: port, health } }
      : { name: 'echo', replicas: 1, task: { command: ['node', 'images/echo/server.js'], ports: port, health } },
  ],
});
