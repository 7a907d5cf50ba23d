/**
 * `goat-cluster inspect service|task|node ID [--json]`: everything Goat knows
 * about one object — a service's spec with every default filled in and its
 * tasks; a task's record with the spec it runs, its last exit and failure; a
 * node's record and its tasks — each with its events (newest last) and the
 * failures of its tasks.
 */
import { GoatError } from '../errors.js';
import type { ClusterEvent, NodeRecord, TaskRecord } from '../model/index.js';
import { call } from './client.js';
import type { Command, CommandContext } from './commands.js';
import { ago } from './table.js';

interface ServiceJson { name: string; replicas: number; version: number; spec: unknown; createdAt: number; updatedAt: number }

/** What `inspect` gathers, as `--json` prints it. */
export interface Inspection {
  kind: 'service' | 'task' | 'node';
  id: string;
  object: unknown;
  tasks: TaskRecord[];
  failures: { task: string; at: number; failure: unknown; lastExit: unknown }[];
  events: ClusterEvent[];
}

/** Gathers an {@link Inspection} from the API. */
export async function inspect(ctx: CommandContext, kind: string, id: string): Promise<Inspection> {
  const c = { manager: ctx.manager, token: ctx.token };
  const enc = encodeURIComponent(id);
  let object: unknown;
  let tasks: TaskRecord[];
  switch (kind) {
    case 'service':
      object = await call<ServiceJson>(c, 'GET', `/v1/services/${enc}`);
      tasks = await call<TaskRecord[]>(c, 'GET', `/v1/tasks?service=${enc}`);
      break;
    case 'task': {
      const task = await call<TaskRecord>(c, 'GET', `/v1/tasks/${enc}?spec=1`);
      object = task;
      tasks = [task];
      break;
    }
    case 'node': {
      const nodes = await call<NodeRecord[]>(c, 'GET', '/v1/nodes');
      const node = nodes.find((n) => n.id === id) ?? nodes.find((n) => n.name === id);
      if (!node) throw new GoatError('GOAT_ERR_NOT_FOUND', `no node '${id}'`, { details: { node: id } });
      object = node;
      id = node.id;
      tasks = await call<TaskRecord[]>(c, 'GET', `/v1/tasks?node=${encodeURIComponent(node.id)}`);
      break;
    }
    default:
      throw new GoatError('GOAT_ERR_USAGE', `inspect wants service, task or node, got '${kind}'`);
  }
  const subjects = new Set([id, ...tasks.map((t) => t.id)]);
  const events = (await call<ClusterEvent[]>(c, 'GET', '/v1/events?since=0&limit=10000')).filter((e) => subjects.has(e.subject) || (kind === 'node' && e.data['node'] === id));
  const failures = tasks.filter((t) => t.failure || (t.lastExit && t.lastExit.code !== 0)).map((t) => ({ task: t.id, at: t.updatedAt, failure: t.failure, lastExit: t.lastExit }));
  return { kind: kind as Inspection['kind'], id, object, tasks, failures, events: events.slice(-200) };
}

/** The inspection as text: the object (spec included) as indented JSON, then tasks, failures and events. */
export function inspectionText(i: Inspection): string {
  const lines = [`${i.kind} ${i.id}`, JSON.stringify(i.object, null, 2)];
  if (i.kind !== 'task') {
    lines.push('', `tasks (${i.tasks.length}):`);
    for (const t of i.tasks) lines.push(`  ${t.id}  ${t.state}${t.desired === 'stopped' ? ' (stopping/stopped)' : ''}  node ${t.node ?? '-'}  gen ${t.generation}  restarts ${t.restarts}  ${ago(t.updatedAt)}${t.error ? `  why: ${t.error.message}` : ''}`);
  }
  lines.push('', `failures (${i.failures.length}):`);
  for (const f of i.failures) lines.push(`  ${f.task}  ${new Date(f.at).toISOString()}  ${JSON.stringify(f.failure ?? f.lastExit)}`);
  lines.push('', `events (${i.events.length}, newest last):`);
  for (const e of i.events) lines.push(`  ${new Date(e.at).toISOString()}  #${e.seq}  ${e.type}  ${e.subject}  ${JSON.stringify(e.data)}`);
  return `${lines.join('\n')}\n`;
}

/** The `inspect` command. */
export const inspectCommand: Command = {
  options: {},
  async run(ctx) {
    const [kind, id] = ctx.args;
    if (kind === undefined || id === undefined) throw new GoatError('GOAT_ERR_USAGE', 'inspect wants service|task|node ID');
    const i = await inspect(ctx, kind, id);
    ctx.out.write(ctx.json ? `${JSON.stringify(i, null, 2)}\n` : inspectionText(i));
  },
};
