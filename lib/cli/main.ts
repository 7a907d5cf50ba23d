#!/usr/bin/env node
/**
 * The `goat-cluster` command (DESIGN.md "CLI"). Server commands (`start`,
 * `manager`, `worker`) run until SIGINT/SIGTERM; the others talk to a
 * manager's HTTP API. Human tables by default, `--json` for scripts.
 * Exit codes: 0 ok, 1 error, 2 usage.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { packageRoot } from '../package-root.js';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { consola } from 'consola';
import { isGoatError } from '../errors.js';
import { readPem } from '../tls.js';
import { commands, type CommandContext } from './commands.js';
import { commandHelp, negativesLast, usageMessage } from './help.js';

const USAGE = `goat-cluster — a fault-tolerant container orchestrator

usage: goat-cluster <command> [options]

commands:
  start    [--config F] [--data-dir D] [--listen H:P] [--runtime auto|docker|process] [--allow-process]
           manager + one local worker in one process
  manager  [--config F] [--data-dir D] [--listen H:P] [--etcd URL,...] [--tls-cert F --tls-key F]
  worker   --join ws[s]://H:P[,...] --token-file F [--config F] [--name N] [--runtime R] [--allow-process] [--data-dir D] [--tls-ca F]
  run NAME (--image I | --command "CMD ...") [--replicas N] [-p HOST:CONTAINER]...
           [-e K=V]... [--restart no|on-failure|always|unless-stopped]
           [--health-http PATH] [--cpu N] [--memory MB] [--idempotency-key K]
  update NAME [run's flags] [--update-parallelism N] [--update-order stop-first|start-first]
           [--update-failure-action pause|rollback|continue] [--update-monitor-ms N] [--wait]
  rollback NAME [--wait]
  ps [--service S] [-a] | services | nodes | managers | stop NAME | scale NAME N | drain NODE | activate NODE
  adopt NODE   take a node refused as of another cluster (and its running tasks) into this one
  logs SERVICE|TASK [--follow] [--tail N] [--since 10m] [--timestamps]
  inspect service|task|node ID | completion bash|zsh|fish
  events [--follow] [--since SEQ] | tree [--watch] | repl | backup FILE | restore FILE

'goat-cluster COMMAND --help' shows a command's own options.

global options:
  --manager http[s]://H:P[,...] (env GOAT_MANAGER, default http://127.0.0.1:7070)
  --token T (env GOAT_TOKEN)   --token-file F (env GOAT_TOKEN_FILE), else <data-dir>/token
  --tls-ca F (env GOAT_TLS_CA) CA certificate (PEM) trusted for an https:// manager
  --data-dir D (default .goat)
  --json     machine-readable output
  -h, --help     this text
  -v, --version  the version
`;

/** Options every command accepts. */
const GLOBAL: NonNullable<ParseArgsConfig['options']> = {
  manager: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'tls-ca': { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'package.json'), 'utf8')) as { version: string }).version;
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const at = commandIndex(argv);
  const name = at < 0 ? argv[0] : argv[at];
  const rest = at < 0 ? argv.slice(1) : [...argv.slice(0, at), ...argv.slice(at + 1)];
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    out.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === '-v' || name === '--version') {
    out.write(`${version()}\n`);
    return 0;
  }
  if (!(out as NodeJS.WriteStream).isTTY) logJsonLines(err);
  const command = commands[name];
  if (!command) {
    err.write(`goat-cluster: unknown command '${name}' (GOAT_ERR_USAGE)\n\n${USAGE}`);
    return 2;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: negativesLast(rest), options: { ...GLOBAL, ...command.options }, allowPositionals: true, strict: true });
  } catch (e) {
    err.write(`goat-cluster ${name}: ${usageMessage(e as Error & { code?: string })} (GOAT_ERR_USAGE)\nsee: goat-cluster ${name} --help\n`);
    return 2;
  }
  if (parsed.values['help']) {
    out.write(commandHelp(name, command));
    return 0;
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const tokenFile = (values['token-file'] as string | undefined) ?? env['GOAT_TOKEN_FILE'];
  if (values['token'] === undefined && env['GOAT_TOKEN'] === undefined && tokenFile !== undefined) {
    try {
      values['token'] = readFileSync(tokenFile, 'utf8').trim();
    } catch (e) {
      err.write(`goat-cluster ${name}: cannot read the token file ${tokenFile}: ${(e as Error).message} (GOAT_ERR_USAGE)\n`);
      return 2;
    }
  }
  const caFile = (values['tls-ca'] as string | undefined) ?? env['GOAT_TLS_CA'];
  let ca: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      ca = readPem(caFile, 'ca');
    } catch (e) {
      err.write(`goat-cluster ${name}: ${(e as Error).message} (GOAT_ERR_TLS_FILE)\n`);
      return 1;
    }
  }
  const dataDir = resolve((values['data-dir'] as string | undefined) ?? env['GOAT_DATA_DIR'] ?? '.goat');
  const ctx: CommandContext = {
    args: parsed.positionals,
    values,
    json: values['json'] === true,
    dataDir,
    manager: (values['manager'] as string | undefined) ?? env['GOAT_MANAGER'] ?? 'http://127.0.0.1:7070',
    token: (values['token'] as string | undefined) ?? env['GOAT_TOKEN'] ?? readToken(dataDir),
    ca,
    out,
    err,
    env,
  };
  try {
    await command.run(ctx);
    return 0;
  } catch (e) {
    if (isGoatError(e, 'GOAT_ERR_USAGE')) {
      err.write(`goat-cluster ${name}: ${e.message} (GOAT_ERR_USAGE)\nsee: goat-cluster ${name} --help\n`);
      return 2;
    }
    if (ctx.json) err.write(`${JSON.stringify({ error: isGoatError(e) ? e.toJSON() : { code: 'GOAT_ERR_INTERNAL', message: String(e), details: {} } })}\n`);
    else err.write(`goat-cluster ${name}: ${isGoatError(e) ? `${e.message} (${e.code})` : (e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

/** Logs as JSON lines (level, tag, time, message) when output is not a terminal: for log collectors. */
function logJsonLines(err: NodeJS.WritableStream): void {
  consola.setReporters([{
    log: (o) => void err.write(`${JSON.stringify({ level: o.type, tag: o.tag || undefined, time: o.date.toISOString(), message: o.args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ') })}\n`),
  }]);
}

/** Where the command name is: global options with values may come first (`--manager URL ps`). */
function commandIndex(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--manager' || a === '--token' || a === '--token-file' || a === '--tls-ca' || a === '--data-dir') i++;
    else if (!a.startsWith('-')) return i;
  }
  return -1;
}

function readToken(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, 'token'), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A reader that went away (`goat-cluster ps | head`) ends the command quietly, as with any Unix tool. */
function quietOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  quietOnEpipe(process.stdout);
  quietOnEpipe(process.stderr);
  process.exitCode = await main(process.argv.slice(2));
}
