/**
 * Per-command help (`goat-cluster COMMAND --help`): the command's usage line,
 * what it does, and every option it takes — its own and the global ones —
 * each with a line of description. Also the usage errors the option parser's
 * own messages become.
 */
import type { Command } from './commands.js';

interface Help {
  usage: string;
  what: string;
  /** Option → description (`-x, --long VALUE` is built from the command's options). */
  flags: Record<string, string>;
}

const GLOBAL_FLAGS: Record<string, string> = {
  manager: 'the manager API, e.g. http://127.0.0.1:7070 or https://… with TLS; several comma-separated (env GOAT_MANAGER)',
  'tls-ca': 'CA certificate (PEM) trusted for a manager with TLS, besides the system\'s (env GOAT_TLS_CA)',
  token: 'the cluster token (env GOAT_TOKEN); prefer --token-file: a token on the command line shows in `ps`',
  'token-file': 'read the cluster token from file F (env GOAT_TOKEN_FILE); else <data-dir>/token',
  'data-dir': 'where a local manager keeps its state and token (default .goat)',
  json: 'machine-readable output',
  help: 'this text',
};

const SERVE = {
  'allow-process': 'let the local worker run tasks as local processes (any command, as this user); off by default',
  config: 'cluster.config.ts to load (default ./cluster.config.ts when present)',
  listen: 'HOST:PORT of the API and worker links (default 127.0.0.1:7070)',
  'tls-cert': 'serve the API and links over TLS with this certificate (PEM; env GOAT_TLS_CERT)',
  'tls-key': 'the certificate\'s private key (PEM; env GOAT_TLS_KEY)',
};

/** What each command says about itself. */
export const HELP: Record<string, Help> = {
  start: { usage: 'start [--config F] [--data-dir D] [--listen H:P] [--runtime auto|docker|process] [--allow-process] [--tls-cert F --tls-key F]', what: 'Runs a manager and one local worker in this process until Ctrl-C.', flags: { ...SERVE, runtime: 'the local worker\'s runtime: auto (Docker when its engine answers), docker or process' } },
  manager: { usage: 'manager [--config F] [--data-dir D] [--listen H:P] [--etcd URL,...] [--tls-cert F --tls-key F]', what: 'Runs a manager alone; workers join it.', flags: { ...SERVE, etcd: 'etcd endpoints for the store and leader election' } },
  worker: { usage: 'worker --join ws[s]://H:P[,...] --token-file F [--config F] [--name N] [--runtime R] [--allow-process] [--data-dir D] [--tls-ca F]', what: 'Runs a worker that joins a manager and runs the tasks placed on its node.', flags: { join: 'the manager link URL(s), comma-separated: ws:// or http://, wss:// or https:// with TLS', name: 'a human name for the node', runtime: 'auto, docker or process', config: SERVE.config, 'allow-process': SERVE['allow-process'] } },
  adopt: { usage: 'adopt NODE', what: 'Lets a node refused as of another cluster (the manager\'s store is new, emptied or replaced) into this one; its tasks are taken over as they run, not restarted.', flags: {} },
  run: {
    usage: 'run NAME (--image I | --command "CMD ...") [options]',
    what: 'Creates service NAME. An existing NAME is refused (409): change it with `update NAME`, or `stop` it first.',
    flags: {
      image: 'the Docker image (Docker nodes)', command: 'the command line (process nodes; with --image, the container\'s arguments)', replicas: 'how many tasks (default 1)',
      publish: 'publish a port HOST:CONTAINER or CONTAINER (repeatable)', env: 'set K=V in the task\'s environment (repeatable)',
      restart: 'no | on-failure | always | unless-stopped', 'health-http': 'HTTP health check path on the first published port', cpu: 'CPUs reserved', memory: 'memory limit in MiB',
      'idempotency-key': 'a retried run with the same key is applied once', wait: 'wait until all replicas run, showing progress', timeout: 'seconds --wait waits (default 60)',
    },
  },
  update: {
    usage: 'update NAME [run\'s flags] [--update-parallelism N] [--update-order stop-first|start-first] [--update-failure-action pause|rollback|continue] [--update-monitor-ms N] [--wait]',
    what: 'Changes only the given fields of service NAME; a changed task spec rolls out slot by slot (see the service\'s `update` settings).',
    flags: {
      image: 'the Docker image', command: 'the command line', replicas: 'how many tasks', publish: 'publish a port HOST:CONTAINER or CONTAINER (repeatable)',
      env: 'set K=V in the task\'s environment (repeatable)', restart: 'no | on-failure | always | unless-stopped', 'health-http': 'HTTP health check path',
      cpu: 'CPUs reserved', memory: 'memory limit in MiB', wait: 'wait until the rollout completes', timeout: 'seconds --wait waits (default 60)',
      'update-parallelism': 'slots updated at a time (default 1)', 'update-delay-ms': 'pause between batches, ms (default 0)',
      'update-order': 'stop-first (default) or start-first', 'update-monitor-ms': 'how long a new task must run to count as updated, ms (default 5000)',
      'update-failure-action': 'pause (default), rollback or continue', 'update-max-failure-ratio': 'failed share of new tasks tolerated (default 0)',
    },
  },
  rollback: { usage: 'rollback NAME [--wait]', what: 'Rolls service NAME back to its previous spec (409 GOAT_ERR_NO_PREVIOUS_SPEC when there is none).', flags: { wait: 'wait until the rollback completes', timeout: 'seconds --wait waits (default 60)' } },
  ps: { usage: 'ps [--service S] [-a]', what: 'Lists tasks: where they run, their state, published ports (HOST:CONTAINER) and why they wait.', flags: { service: 'only this service\'s tasks', all: 'also finished tasks' } },
  services: { usage: 'services', what: 'Lists services with running/wanted replicas.', flags: {} },
  nodes: { usage: 'nodes', what: 'Lists nodes with status, runtime, capacity and when last seen.', flags: {} },
  stop: { usage: 'stop NAME', what: 'Deletes service NAME; its tasks are stopped.', flags: {} },
  scale: { usage: 'scale NAME N', what: 'Sets service NAME to N replicas (a whole number >= 0).', flags: { wait: 'wait until N replicas run', timeout: 'seconds --wait waits (default 60)' } },
  drain: { usage: 'drain NODE', what: 'No new tasks on NODE (id or name); its tasks move elsewhere. Undo with `activate NODE`.', flags: {} },
  activate: { usage: 'activate NODE', what: 'Takes tasks on NODE (id or name) again after a drain.', flags: {} },
  events: { usage: 'events [--follow] [--since SEQ]', what: 'The newest events (1,000); --since SEQ pages back from event SEQ on; --follow streams them as they happen.', flags: { follow: 'stream events as they happen', since: 'events after sequence number SEQ' } },
  logs: {
    usage: 'logs SERVICE|TASK [--follow] [--tail N] [--since 10m] [--timestamps]',
    what: 'What a task printed (`out | …` stdout, `err | …` stderr), read from its node; for a service, every task\'s lines prefixed with its task id.',
    flags: { follow: 'keep printing new lines until the task ends (Ctrl-C to stop)', tail: 'only the last N lines', since: 'only lines since a duration ago (90s, 10m, 2h), an ISO time or epoch ms', timestamps: 'show each line\'s time' },
  },
  inspect: { usage: 'inspect service|task|node ID', what: 'Everything Goat knows about one object: its spec with defaults, its tasks, events and failures.', flags: {} },
  completion: { usage: 'completion bash|zsh|fish', what: 'Prints a shell completion script; names are completed from a running manager when one answers. bash: source <(goat-cluster completion bash)', flags: {} },
  tree: { usage: 'tree [--watch]', what: 'The supervision tree; --watch is the live inspector.', flags: { watch: 'live view (q quits)' } },
  repl: { usage: 'repl [--history F]', what: 'A REPL on the manager\'s actors (send, ask, tree, tasks, nodes).', flags: { history: 'history file' } },
  backup: { usage: 'backup FILE', what: 'Copies the manager\'s store (<data-dir>/goat.db) to FILE, consistently.', flags: {} },
  restore: { usage: 'restore FILE', what: 'Restores a backup into <data-dir>/goat.db (manager stopped).', flags: {} },
};

/** `goat-cluster NAME --help`. */
export function commandHelp(name: string, command: Command): string {
  const help = HELP[name];
  const rows: [string, string][] = [];
  const options = { ...command.options, ...GLOBAL_OPTIONS };
  for (const [flag, o] of Object.entries(options)) {
    const spelled = `${o.short ? `-${o.short}, ` : ''}--${flag}${o.type === 'string' ? ` ${VALUE_NAMES[flag] ?? 'V'}` : ''}`;
    rows.push([spelled, help?.flags[flag] ?? GLOBAL_FLAGS[flag] ?? '']);
  }
  const width = Math.max(...rows.map(([f]) => f.length));
  return `usage: goat-cluster ${help?.usage ?? name}\n\n${help?.what ?? ''}\n\noptions:\n${rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`.trimEnd()).join('\n')}\n`;
}

const VALUE_NAMES: Record<string, string> = {
  manager: 'URL', token: 'T', 'token-file': 'F', 'data-dir': 'D', config: 'F', listen: 'H:P', runtime: 'R', etcd: 'URL,...', join: 'URL', name: 'N', 'tls-cert': 'F', 'tls-key': 'F', 'tls-ca': 'F',
  image: 'I', command: '"CMD ..."', replicas: 'N', publish: 'H:C', env: 'K=V', restart: 'POLICY', 'health-http': 'PATH', cpu: 'N', memory: 'MB',
  'idempotency-key': 'K', timeout: 'S', service: 'S', since: 'WHEN', tail: 'N', history: 'F',
};

const GLOBAL_OPTIONS: Command['options'] = {
  manager: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, 'tls-ca': { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
};

/** Negative numbers (`scale web -1`) are positionals for the command to judge, not unknown options: moved after `--`. */
export function negativesLast(args: string[]): string[] {
  const end = args.indexOf('--');
  const head = end < 0 ? args : args.slice(0, end);
  const negatives = head.filter((a) => /^-\d/.test(a));
  if (negatives.length === 0) return args;
  const rest = head.filter((a) => !/^-\d/.test(a));
  return [...rest, '--', ...negatives, ...(end < 0 ? [] : args.slice(end + 1))];
}

/** The parser's error as a Goat usage message. */
export function usageMessage(e: Error & { code?: string }): string {
  const m = /'([^']+)'/.exec(e.message);
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${m?.[1] ?? ''}`.trim();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(e.message)) return `option ${m?.[1]?.split(' ')[0] ?? ''} needs a value`;
      if (/ambiguous/.test(e.message)) return `the value of ${m?.[1] ?? ''} starts with a dash: write it as ${m?.[1] ?? ''}="-..."`;
      return `option ${m?.[1] ?? ''} takes no value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${m?.[1] ?? ''}`;
    default:
      return e.message;
  }
}
