#!/usr/bin/env node
/**
 * The `goat-cluster` command. The contract (DESIGN.md) lists every command;
 * those not built yet say so and exit 1. Exit codes: 0 ok, 1 error, 2 usage.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const USAGE = `goat-cluster — a fault-tolerant container orchestrator

usage: goat-cluster <command> [options]

commands:
  start    [--config F] [--data-dir D] [--listen H:P] [--runtime auto|docker|process]
  manager  [--config F] [--data-dir D] [--listen H:P] [--etcd URL,...]
  worker   --join ws://H:P --token T [--name N] [--runtime R] [--data-dir D]
  run NAME (--image I | --command "CMD ...") [--replicas N] [-p HOST:CONTAINER]...
  ps | services | nodes | stop NAME | scale NAME N | drain NODE
  events [--follow] | tree [--watch] | repl | backup FILE | restore FILE

global options:
  --manager http://H:P (env GOAT_MANAGER)  --token T (env GOAT_TOKEN)  --json
  -h, --help     this text
  -v, --version  the version
`;

const COMMANDS = new Set(['start', 'manager', 'worker', 'run', 'ps', 'services', 'nodes', 'stop', 'scale', 'drain', 'events', 'tree', 'repl', 'backup', 'restore']);

function version(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const pkg = JSON.parse(readFileSync(join(here, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export function main(argv: string[], out = process.stdout, err = process.stderr): number {
  const [command] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    out.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '-v' || command === '--version') {
    out.write(`${version()}\n`);
    return 0;
  }
  if (!COMMANDS.has(command)) {
    err.write(`goat-cluster: unknown command '${command}' (GOAT_ERR_USAGE)\n\n${USAGE}`);
    return 2;
  }
  err.write(`goat-cluster: '${command}' is not built yet (GOAT_ERR_NOT_IMPLEMENTED)\n`);
  return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1])) {
  process.exitCode = main(process.argv.slice(2));
}
