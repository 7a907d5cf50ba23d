/**
 * `goat-cluster repl`: a Node REPL whose globals talk to the manager's actors
 * over `/v1/admin` — `send(path, msg)`, `ask(path, msg, timeoutMs)`, `info(path)`,
 * `state(path)`, `kill(path, reason)`, `tree()`,
 * `tasks()`, `nodes()`, `services()`, `events()` — with completion of actor
 * paths and message types, and history. Errors print; the REPL carries on.
 */
import { start, type REPLServer } from 'node:repl';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TreeNode } from '../supervision/index.js';
import { AdminClient } from './client.js';

/** Message types worth offering in completion (`$info` is answered by every actor). */
export const MESSAGE_TYPES = ['$info', '$state', '$kill'];

const HELP = `Goat REPL — talks to the manager's actors (each returns a promise: write \`await ask(...)\`):
  tree()                       the supervision tree
  tasks()  nodes()  services() what the manager knows
  send(path, msg)              send a message to an actor, e.g. send('/cluster/manager/reconciler', { type: '$info' })
  ask(path, msg, timeoutMs?)   send and wait for the reply, e.g. ask('/cluster/manager/scheduler', { type: '$info' })
                               (paths under /cluster/manager/nodes/<id>/worker reach that worker over its link)
  info(path)                   status, restarts, uptime, mailbox length of any actor or supervisor
  state(path)                  a copy of an actor's state (like sys:get_state)
  kill(path, reason?)          crash an actor so its supervisor acts (like exit(Pid, kill))
  events()                     print the cluster's events as they happen
  paths()                      every actor path (Tab completes them inside quotes)
`;

/** Every path in a tree. */
export function pathsOf(node: TreeNode): string[] {
  return [node.path, ...(node.children ?? []).flatMap(pathsOf)];
}

/** Starts the REPL against a manager; resolves when it exits. */
export async function startRepl(options: { manager: string; token: string | undefined; ca?: Buffer | string | undefined; historyFile?: string; input?: NodeJS.ReadableStream; output?: NodeJS.WritableStream }): Promise<void> {
  const client = new AdminClient(options.manager, options.token, options.ca);
  await client.opened;
  let paths: string[] = [];
  const refreshPaths = async (): Promise<void> => {
    paths = pathsOf((await client.request('tree')) as TreeNode);
  };
  await refreshPaths();
  const out = options.output ?? process.stdout;
  out.write(`connected to ${options.manager}; .help lists the dot-commands, .exit leaves\n${HELP}`);
  const server: REPLServer = start({
    prompt: 'goat> ',
    input: options.input ?? process.stdin,
    output: out,
    ignoreUndefined: true,
    completer: (line: string) => {
      const m = /(['"])([^'"]*)$/.exec(line);
      if (m) {
        const partial = m[2]!;
        const candidates = [...paths, ...MESSAGE_TYPES].filter((p) => p.startsWith(partial));
        return [candidates, partial];
      }
      const names = ['send(', 'ask(', 'info(', 'state(', 'kill(', 'tree()', 'tasks()', 'nodes()', 'services()', 'events()', 'paths()'];
      const word = /[\w$]*$/.exec(line)?.[0] ?? '';
      return [names.filter((n) => n.startsWith(word)), word];
    },
  });
  const ctx = server.context as Record<string, unknown>;
  ctx['tree'] = async () => {
    const t = await client.request('tree');
    paths = pathsOf(t as TreeNode);
    return t;
  };
  ctx['tasks'] = () => client.request('tasks');
  ctx['nodes'] = () => client.request('nodes');
  ctx['services'] = () => client.request('services');
  ctx['paths'] = async () => {
    await refreshPaths();
    return paths;
  };
  ctx['send'] = (path: string, message: unknown) => client.request('send', { path, message });
  ctx['ask'] = (path: string, message: unknown, timeoutMs?: number) => client.request('ask', { path, message, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  ctx['info'] = (path: string) => client.request('ask', { path, message: { type: '$info' } });
  ctx['state'] = (path: string, timeoutMs?: number) => client.request('ask', { path, message: { type: '$state' }, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  ctx['kill'] = (path: string, reason?: string) => client.request('send', { path, message: { type: '$kill', ...(reason === undefined ? {} : { reason }) } });
  ctx['events'] = async () => {
    await client.subscribe((e) => {
      const ev = e as { seq: number; type: string; subject: string; data: unknown };
      out.write(`\n#${ev.seq} ${ev.type} ${ev.subject} ${JSON.stringify(ev.data)}\n`);
      server.displayPrompt(true);
    });
    return 'printing events as they happen';
  };
  server.defineCommand('paths', { help: 'List actor paths', action: () => void refreshPaths().then(() => { out.write(`${paths.join('\n')}\n`); server.displayPrompt(); }) });
  server.defineCommand('goat', { help: 'What the Goat globals do', action: () => { out.write(HELP); server.displayPrompt(); } });
  const history = options.historyFile ?? join(homedir(), '.goat_repl_history');
  await new Promise<void>((resolve) => server.setupHistory(history, () => resolve()));
  await new Promise<void>((resolve) => server.on('exit', () => resolve()));
  client.close();
}
