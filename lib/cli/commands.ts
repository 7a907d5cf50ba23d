/** Every `goat-cluster` command: its options and what it does. */
import { type ParseArgsConfig } from 'node:util';
import { join } from 'node:path';
import { GoatError } from '../errors.js';
import { openSqliteStore, restoreSqliteStore } from '../store/sqlite.js';
import { completedWhy, completesUnder, waitingWhy, type ClusterEvent, type NodeRecord, type TaskRecord } from '../model/index.js';
import type { TreeNode } from '../supervision/index.js';
import { call } from './client.js';
import { goatFetch } from '../tls-fetch.js';
import { ago, table } from './table.js';
import { paint, serviceText, slotSegments, watchTree } from '../inspector/index.js';
import { logsCommand } from './logs.js';
import { adoptCommand } from './adopt.js';
import { inspectCommand } from './inspect.js';
import { completionCommand, namesCommand } from './completion.js';
import { UPDATE_OPTIONS, rollback, update } from './rollout.js';
import { SPEC_OPTIONS, specFromFlags } from './spec-flags.js';
import { checkPlacement } from './placeable.js';
import { convergence, currentTasks } from './converge.js';

export { currentTasks };

/** The server commands' code (manager, worker, Docker, etcd), loaded only when one runs: the client commands start fast. */
const serve = (): Promise<typeof import('./serve.js')> => import('./serve.js');

/** What a command gets. */
export interface CommandContext {
  args: string[];
  values: Record<string, string | boolean | string[] | undefined>;
  json: boolean;
  dataDir: string;
  manager: string;
  token: string | undefined;
  /** The CA a TLS manager's certificate is checked against (`--tls-ca`/GOAT_TLS_CA), PEM. */
  ca?: Buffer | undefined;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** One command. */
export interface Command {
  options: NonNullable<ParseArgsConfig['options']>;
  run(ctx: CommandContext): Promise<void>;
}

const usage = (m: string): GoatError => new GoatError('GOAT_ERR_USAGE', m);
const arg = (ctx: CommandContext, i: number, what: string): string => {
  const v = ctx.args[i];
  if (v === undefined) throw usage(`missing ${what}`);
  return v;
};
const print = (ctx: CommandContext, data: unknown, human: () => string): void => void ctx.out.write(ctx.json ? `${JSON.stringify(data, null, 2)}\n` : human());

interface ServiceJson {
  name: string; replicas: number; version: number; spec: { task: { image?: string; command?: string[]; restart?: { policy?: string } } };
  status?: { state: string; reason?: string }; update?: { state: string; message: string; version?: number } | null;
}

/** The body `goat-cluster run` sends: the whole spec from the task flags (see ./spec-flags.ts), one replica unless told. */
export function runBody(ctx: CommandContext): Record<string, unknown> {
  const name = arg(ctx, 0, 'service NAME');
  if (!ctx.values['image'] && !ctx.values['command']) throw usage('run needs --image I (Docker nodes) or --command "CMD ..." (process nodes); with both, the command gives the image\'s arguments');
  const { task, replicas } = specFromFlags(ctx.values);
  return { name, replicas: replicas ?? 1, task };
}

/** `host:container` for each published port (`:container` while no host port is known). */
export function portsText(t: TaskRecord): string {
  return (t.ports ?? []).map((p) => `${p.host ?? ''}:${p.container}`).join(',');
}

/**
 * Before `run` creates anything: refused at once (GOAT_ERR_UNPLACEABLE, nothing
 * created) when no node of the cluster can ever run its tasks; a warning when
 * every node that could is down now (see ./placeable.ts).
 */
async function checkPlaceable(ctx: CommandContext, body: Record<string, unknown>): Promise<void> {
  const nodes = await call<NodeRecord[]>(client(ctx), 'GET', '/v1/nodes').catch(() => undefined);
  const check = checkPlacement(body['task'] as { image?: string }, nodes ?? []);
  if (check.refuse) throw new GoatError('GOAT_ERR_UNPLACEABLE', check.refuse, { details: { nodes: (nodes ?? []).map((n) => ({ name: n.name, runtime: n.runtime })) } });
  if (check.warn) ctx.err.write(`goat-cluster run: warning: ${check.warn}\n`);
}

/** Under the nodes table: why each refused node was refused (and how to adopt it). */
function nodeNotes(nodes: readonly NodeRecord[]): string {
  return nodes.filter((n) => n.refused || n.unavailable).map((n) => `\n${n.name}: ${n.refused?.reason ?? n.unavailable}\n`).join('');
}

/** Commands already told their answer may be stale (once each). */
const warnedStale = new WeakSet<CommandContext>();

/** The node named by the first argument (an id, else a name); GOAT_ERR_NOT_FOUND when there is none. */
async function nodeArg(ctx: CommandContext): Promise<NodeRecord> {
  const which = arg(ctx, 0, 'NODE (id or name)');
  const nodes = await call<NodeRecord[]>(client(ctx), 'GET', '/v1/nodes');
  const node = nodes.find((n) => n.id === which) ?? nodes.find((n) => n.name === which);
  if (!node) throw new GoatError('GOAT_ERR_NOT_FOUND', `no node '${which}'`);
  return node;
}

function client(ctx: CommandContext) {
  const onStale = (): void => {
    if (warnedStale.has(ctx)) return;
    warnedStale.add(ctx);
    ctx.err.write('goat-cluster: no leader right now (an election, or etcd has no quorum): this answer may be stale\n');
  };
  return { manager: ctx.manager, token: ctx.token, ca: ctx.ca, onStale };
}

async function followEvents(ctx: CommandContext): Promise<void> {
  const res = await goatFetch(new URL('/v1/events?since=0', ctx.manager.split(',')[0]), { headers: { accept: 'text/event-stream', ...(ctx.token ? { authorization: `Bearer ${ctx.token}` } : {}) } }, { ca: ctx.ca });
  if (!res.ok || !res.body) throw new GoatError('GOAT_ERR_NOT_READY', `events: HTTP ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      if (data) ctx.out.write(ctx.json ? `${data.slice(6)}\n` : eventLine(JSON.parse(data.slice(6)) as ClusterEvent));
    }
  }
}

function eventLine(e: ClusterEvent): string {
  return `${new Date(e.at).toISOString()}  #${e.seq}  ${e.type}  ${e.subject}  ${JSON.stringify(e.data)}\n`;
}

function treeText(n: TreeNode, depth = 0, now = Date.now()): string {
  const extra = [n.note ?? '', n.restarts ? `restarts ${n.restarts}` : '', n.nextRestartAt ? `restart in ${Math.max(0, n.nextRestartAt - now)} ms` : '', n.lastError ? `last error: ${n.lastError.message}` : ''].filter(Boolean).join(', ');
  const service = n.service ? ` ${serviceText(n.service)}` : '';
  const slots = (n.service?.slots ?? []).map((s) => `${'  '.repeat(depth + 1)}${paint(slotSegments(s, now), false)}\n`).join('');
  return `${'  '.repeat(depth)}${n.id} [${n.kind}] ${n.status}${extra ? ` (${extra})` : ''}${service}\n${slots}${(n.children ?? []).map((c) => treeText(c, depth + 1, now)).join('')}`;
}

/**
 * `--wait`: polls until the service has exactly `replicas` running tasks,
 * showing progress on stderr (one updating line on a terminal, a line per
 * change otherwise); fails after `--timeout` seconds (default 60) saying why
 * the rest wait.
 */
async function converge(ctx: CommandContext, name: string, replicas: number): Promise<void> {
  const deadline = Date.now() + Number(ctx.values['timeout'] ?? 60) * 1000;
  const tty = (ctx.err as NodeJS.WriteStream).isTTY === true;
  let last = '';
  for (;;) {
    // The current generation of each slot only: failed tasks of earlier generations are history.
    const [all, svc] = await Promise.all([
      call<TaskRecord[]>(client(ctx), 'GET', `/v1/tasks?service=${encodeURIComponent(name)}`),
      call<ServiceJson>(client(ctx), 'GET', `/v1/services/${encodeURIComponent(name)}`),
    ]);
    const { running, completed, waiting, paused, done } = convergence(svc, all, replicas);
    const line = `${name}: ${running}/${replicas} running${completed ? `, ${completed} completed` : ''}${waiting ? ` (waiting: ${waiting})` : ''}`;
    if (line !== last) ctx.err.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    last = line;
    if (paused) {
      if (tty) ctx.err.write('\n');
      throw new GoatError('GOAT_ERR_NOT_READY', `${name}: ${paused}`);
    }
    if (done) {
      if (tty) ctx.err.write('\n');
      return;
    }
    if (Date.now() > deadline) {
      if (tty) ctx.err.write('\n');
      throw new GoatError('GOAT_ERR_NOT_READY', `${name} did not converge: ${running}/${replicas} running${waiting ? `; ${waiting}` : ''}`, { temporary: true });
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Why a task waits, with the reschedule countdown as of now. */
export function whyColumn(t: TaskRecord, now = Date.now(), policy?: string): string {
  const done = t.state === 'completed' && t.desired === 'running' && completesUnder(policy) ? completedWhy(policy!) : '';
  return waitingWhy(t.error?.message ?? t.failure?.message ?? done, t.state === 'pending' ? t.notBefore : undefined, now);
}

/** The commands by name. */
export const commands: Record<string, Command> = {
  start: { options: { config: { type: 'string' }, listen: { type: 'string' }, runtime: { type: 'string' }, 'allow-process': { type: 'boolean' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } }, run: async (ctx) => (await serve()).start(ctx) },
  manager: { options: { config: { type: 'string' }, listen: { type: 'string' }, etcd: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } }, run: async (ctx) => (await serve()).manager(ctx) },
  worker: { options: { config: { type: 'string' }, join: { type: 'string' }, name: { type: 'string' }, runtime: { type: 'string' }, 'allow-process': { type: 'boolean' } }, run: async (ctx) => (await serve()).worker(ctx) },
  run: {
    options: {
      ...SPEC_OPTIONS, 'idempotency-key': { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' },
    },
    async run(ctx) {
      const body = runBody(ctx);
      await checkPlaceable(ctx, body);
      const key = ctx.values['idempotency-key'] as string | undefined;
      const svc = key
        ? await call<ServiceJson>(client(ctx), 'POST', '/v1/services', body, { 'idempotency-key': key, 'if-none-match': '*' })
        : await call<ServiceJson>(client(ctx), 'PUT', `/v1/services/${encodeURIComponent(body['name'] as string)}`, body, { 'if-none-match': '*' });
      print(ctx, svc, () => `service ${svc.name}: ${svc.replicas} replica(s), version ${svc.version}\n`);
      if (ctx.values['wait']) await converge(ctx, svc.name, svc.replicas);
    },
  },
  ps: {
    options: { service: { type: 'string' }, all: { type: 'boolean', short: 'a' } },
    async run(ctx) {
      const q = ctx.values['service'] ? `?service=${encodeURIComponent(ctx.values['service'] as string)}` : '';
      const [tasks, services] = await Promise.all([call<TaskRecord[]>(client(ctx), 'GET', `/v1/tasks${q}`), call<ServiceJson[]>(client(ctx), 'GET', '/v1/services')]);
      // Without -a: the current task of each slot of the services that exist (and anything still stopping).
      const replicas = new Map(services.map((s) => [s.name, s.replicas]));
      const policies = new Map(services.map((s) => [s.name, s.spec.task.restart?.policy]));
      const current = new Set([...replicas].flatMap(([name, n]) => currentTasks(tasks.filter((t) => t.service === name), n).map((t) => t.id)));
      const shown = ctx.values['all'] ? tasks : tasks.filter((t) => current.has(t.id) || (replicas.has(t.service) && !['completed', 'failed', 'lost', 'stopped'].includes(t.state)));
      print(ctx, shown, () => table(['TASK', 'SERVICE', 'SLOT', 'GEN', 'NODE', 'STATE', 'PORTS', 'RESTARTS', 'UPDATED', 'WHY'],
        shown.map((t) => [t.id, t.service, String(t.slot), String(t.generation), t.node ?? '-', t.state, portsText(t), String(t.restarts), ago(t.updatedAt), whyColumn(t, Date.now(), policies.get(t.service))])));
    },
  },
  services: {
    options: {},
    async run(ctx) {
      const [services, tasks] = await Promise.all([call<ServiceJson[]>(client(ctx), 'GET', '/v1/services'), call<TaskRecord[]>(client(ctx), 'GET', '/v1/tasks')]);
      print(ctx, services, () => table(['SERVICE', 'STATUS', 'RUNNING', 'VERSION', 'UPDATE', 'RUNS'], services.map((s) => [
        s.name, s.status?.state === 'degraded' ? `degraded: ${s.status.reason ?? ''}` : (s.status?.state ?? 'running'),
        `${tasks.filter((t) => t.service === s.name && t.state === 'running' && t.desired === 'running').length}/${s.replicas}`, String(s.version),
        s.update ? (s.update.state === 'completed' ? 'completed' : `${s.update.state}: ${s.update.message}`) : '-',
        s.spec.task.image ?? (s.spec.task.command ?? []).join(' '),
      ])));
    },
  },
  managers: {
    options: {},
    async run(ctx) {
      const ms = await call<{ id: string; url: string; leader: boolean; epoch: number | null; healthy: boolean }[]>(client(ctx), 'GET', '/v1/managers');
      print(ctx, ms, () => table(['MANAGER', 'ADDRESS', 'LEADER', 'EPOCH', 'HEALTHY'], ms.map((m) => [
        m.id, m.url, m.leader ? 'yes' : 'no', m.epoch === null ? '-' : String(m.epoch), m.healthy ? 'yes' : 'no',
      ])));
    },
  },
  update: {
    options: UPDATE_OPTIONS,
    run: (ctx) => update(ctx, client(ctx), (d, h) => print(ctx, d, h), (n, r) => converge(ctx, n, r)),
  },
  rollback: {
    options: { wait: { type: 'boolean' }, timeout: { type: 'string' } },
    run: (ctx) => rollback(ctx, client(ctx), (d, h) => print(ctx, d, h), (n, r) => converge(ctx, n, r)),
  },
  nodes: {
    options: {},
    async run(ctx) {
      const nodes = await call<NodeRecord[]>(client(ctx), 'GET', '/v1/nodes');
      print(ctx, nodes, () => table(['NODE', 'NAME', 'STATUS', 'RUNTIME', 'CPUS', 'MEMORY', 'TASKS', 'SEEN'], nodes.map((n) => [
        n.id, n.name, n.status, n.runtime, String(n.capacity.cpus), `${Math.round(n.capacity.memoryMb)} MiB`, String(n.usage.tasks), ago(n.lastSeenAt),
      ])) + nodeNotes(nodes));
    },
  },
  stop: {
    options: {},
    async run(ctx) {
      const name = arg(ctx, 0, 'service NAME');
      await call(client(ctx), 'DELETE', `/v1/services/${encodeURIComponent(name)}`);
      print(ctx, { stopped: name }, () => `service ${name} stopped\n`);
    },
  },
  scale: {
    options: { wait: { type: 'boolean' }, timeout: { type: 'string' } },
    async run(ctx) {
      const name = arg(ctx, 0, 'service NAME');
      const n = Number(arg(ctx, 1, 'replica count N'));
      if (!Number.isInteger(n) || n < 0) throw usage(`scale wants a whole number of replicas, got '${ctx.args[1]}'`);
      const svc = await call<ServiceJson>(client(ctx), 'PATCH', `/v1/services/${encodeURIComponent(name)}`, { replicas: n });
      print(ctx, svc, () => `service ${svc.name}: ${svc.replicas} replica(s)\n`);
      if (ctx.values['wait']) await converge(ctx, svc.name, svc.replicas);
    },
  },
  drain: {
    options: {},
    async run(ctx) {
      const node = await nodeArg(ctx);
      const drained = await call<NodeRecord>(client(ctx), 'POST', `/v1/nodes/${encodeURIComponent(node.id)}/drain`);
      print(ctx, drained, () => `node ${drained.name} (${drained.id}) draining\n`);
    },
  },
  activate: {
    options: {},
    async run(ctx) {
      const node = await nodeArg(ctx);
      const active = await call<NodeRecord>(client(ctx), 'POST', `/v1/nodes/${encodeURIComponent(node.id)}/activate`);
      print(ctx, active, () => `node ${active.name} (${active.id}) ${active.status}\n`);
    },
  },
  adopt: adoptCommand,
  inspect: inspectCommand,
  completion: completionCommand,
  __names: namesCommand,
  events: {
    options: { follow: { type: 'boolean', short: 'f' }, since: { type: 'string' } },
    async run(ctx) {
      if (ctx.values['follow']) return followEvents(ctx);
      const since = ctx.values['since'];
      if (since !== undefined && !/^\d+$/.test(since as string)) throw usage(`--since wants an event sequence number, got '${String(since)}'`);
      // Without --since: the newest events.
      const events = await call<ClusterEvent[]>(client(ctx), 'GET', since === undefined ? '/v1/events' : `/v1/events?since=${Number(since)}`);
      print(ctx, events, () => events.map(eventLine).join(''));
    },
  },
  logs: logsCommand,
  tree: {
    options: { watch: { type: 'boolean' } },
    async run(ctx) {
      if (ctx.values['watch']) return watchTree({ ...client(ctx), out: ctx.out, err: ctx.err, json: ctx.json, env: ctx.env });
      const tree = await call<TreeNode>(client(ctx), 'GET', '/v1/tree');
      print(ctx, tree, () => treeText(tree));
    },
  },
  repl: {
    options: { history: { type: 'string' } },
    async run(ctx) {
      const { startRepl } = await import('../repl/index.js');
      await startRepl({ manager: ctx.manager, token: ctx.token, ca: ctx.ca, ...(ctx.values['history'] ? { historyFile: ctx.values['history'] as string } : {}) });
    },
  },
  backup: {
    options: {},
    async run(ctx) {
      const file = arg(ctx, 0, 'backup FILE');
      const store = openSqliteStore(join(ctx.dataDir, 'goat.db'));
      try {
        await store.backup(file);
      } finally {
        store.close();
      }
      print(ctx, { backup: file }, () => `backed up ${join(ctx.dataDir, 'goat.db')} to ${file}\n`);
    },
  },
  restore: {
    options: {},
    async run(ctx) {
      const file = arg(ctx, 0, 'backup FILE');
      await restoreSqliteStore(file, join(ctx.dataDir, 'goat.db'));
      print(ctx, { restored: file }, () => `restored ${file} into ${join(ctx.dataDir, 'goat.db')} (stop the manager first; start it again to use it)\n`);
    },
  },
};
