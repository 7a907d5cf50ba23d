/**
 * `goat-cluster completion bash|zsh|fish`: a completion script for the shell.
 * Commands and each command's options are written into the script; service,
 * task and node names come from `goat-cluster __names KIND…`, which asks the
 * manager (GOAT_MANAGER, the token as usual) with a short timeout and prints
 * nothing when none answers.
 */
import { GoatError } from '../errors.js';
import type { NodeRecord, TaskRecord } from '../model/index.js';
import { call } from './client.js';
import type { Command, CommandContext } from './commands.js';

/** Which names complete the positional arguments of each command. */
const NAMES: Record<string, string> = {
  logs: 'services tasks', stop: 'services', scale: 'services', update: 'services', rollback: 'services', drain: 'nodes', activate: 'nodes',
};

function commandTable(all: Record<string, Command>): { names: string[]; flags: Record<string, string> } {
  const names = Object.keys(all).filter((n) => !n.startsWith('__'));
  const flags: Record<string, string> = {};
  for (const n of names) {
    const o = all[n]!.options;
    flags[n] = [...Object.keys(o).map((f) => `--${f}`), '--manager', '--token-file', '--json', '--help'].join(' ');
  }
  return { names, flags };
}

/** The bash script (zsh loads it through bashcompinit). */
export function bashScript(all: Record<string, Command>): string {
  const { names, flags } = commandTable(all);
  return `# goat-cluster completion for bash: source <(goat-cluster completion bash)
_goat_cluster() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[1]}" words=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${names.join(' ')}" -- "$cur") ); return
  fi
  if [[ "$cur" == -* ]]; then
    case "$cmd" in
${names.map((n) => `      ${n}) words="${flags[n]}" ;;`).join('\n')}
    esac
    COMPREPLY=( $(compgen -W "$words" -- "$cur") ); return
  fi
  case "$cmd" in
${Object.entries(NAMES).map(([c, k]) => `    ${c}) [ "$COMP_CWORD" -eq 2 ] && words="$(goat-cluster __names ${k} 2>/dev/null)" ;;`).join('\n')}
    inspect) if [ "$COMP_CWORD" -eq 2 ]; then words="service task node"; elif [ "$COMP_CWORD" -eq 3 ]; then words="$(goat-cluster __names "\${COMP_WORDS[2]}s" 2>/dev/null)"; fi ;;
    completion) words="bash zsh fish" ;;
    *) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -F _goat_cluster goat-cluster
`;
}

/** The zsh script: the bash one through bashcompinit. */
export function zshScript(all: Record<string, Command>): string {
  return `# goat-cluster completion for zsh: source <(goat-cluster completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashScript(all).split('\n').slice(1).join('\n')}`;
}

/** The fish script. */
export function fishScript(all: Record<string, Command>): string {
  const { names, flags } = commandTable(all);
  const lines = [
    '# goat-cluster completion for fish: goat-cluster completion fish | source',
    'complete -c goat-cluster -f',
    `complete -c goat-cluster -n '__fish_use_subcommand' -a '${names.join(' ')}'`,
  ];
  for (const n of names) {
    for (const f of flags[n]!.split(' ')) lines.push(`complete -c goat-cluster -n '__fish_seen_subcommand_from ${n}' -l ${f.slice(2)}`);
  }
  for (const [c, k] of Object.entries(NAMES)) lines.push(`complete -c goat-cluster -n '__fish_seen_subcommand_from ${c}' -a '(goat-cluster __names ${k} 2>/dev/null)'`);
  lines.push(`complete -c goat-cluster -n '__fish_seen_subcommand_from inspect' -a 'service task node'`);
  lines.push(`complete -c goat-cluster -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'`);
  return `${lines.join('\n')}\n`;
}

/** The `completion` command (the command table is passed in to avoid an import cycle). */
export const completionCommand: Command = {
  options: {},
  async run(ctx) {
    const { commands } = await import('./commands.js');
    const shell = ctx.args[0];
    const script = shell === 'bash' ? bashScript(commands) : shell === 'zsh' ? zshScript(commands) : shell === 'fish' ? fishScript(commands) : undefined;
    if (!script) throw new GoatError('GOAT_ERR_USAGE', `completion wants bash, zsh or fish, got '${shell ?? ''}'`);
    ctx.out.write(script);
  },
};

/** `__names services|tasks|nodes…` for the scripts: names from the manager, or nothing within a second. */
export const namesCommand: Command = {
  options: {},
  async run(ctx: CommandContext) {
    const c = { manager: ctx.manager, token: ctx.token };
    const out: string[] = [];
    const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1_000).unref());
    const ask = async <T>(path: string): Promise<T[]> => ((await Promise.race([call<T[]>(c, 'GET', path).catch(() => undefined), timeout])) ?? []);
    for (const kind of ctx.args) {
      if (kind === 'services') out.push(...(await ask<{ name: string }>('/v1/services')).map((s) => s.name));
      if (kind === 'tasks') out.push(...(await ask<TaskRecord>('/v1/tasks')).filter((t) => t.desired === 'running').map((t) => t.id));
      if (kind === 'nodes') out.push(...(await ask<NodeRecord>('/v1/nodes')).map((n) => n.name));
    }
    if (out.length > 0) ctx.out.write(`${out.join('\n')}\n`);
  },
};
