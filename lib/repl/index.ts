/** lib/repl — the REPL that talks to a running manager's actors over `/v1/admin`. */
export { startRepl, pathsOf, MESSAGE_TYPES } from './repl.js';
export { AdminClient } from './client.js';
