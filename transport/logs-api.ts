/**
 * Which streams make up `logs TASK` and `logs SERVICE`, and the errors a
 * reader gets before any line: an unknown task or service (404), a task on a
 * node that is not linked (503, naming the node and when it was last seen).
 * A service's logs merge the streams of its tasks (each event carries its
 * task id); a task whose node is away is an error event among the lines,
 * not the end of the others.
 */
import { GoatError } from '../lib/errors.js';
import { mergeEvents, type LogEvent, type LogReadOptions } from '../lib/logs/index.js';
import type { NodeRecord, ServiceRecord, TaskRecord } from '../lib/model/index.js';
import type { LogRouter } from './logs-manager.js';

/** What log reading needs from the manager. */
export interface LogsDeps {
  router: LogRouter;
  getTask(id: string): TaskRecord | undefined;
  getService(name: string): ServiceRecord | undefined;
  listTasks(filter: { service?: string }): TaskRecord[];
  getNode(id: string): NodeRecord | undefined;
}

/** What to read logs of. */
export type LogTarget = { task: string } | { service: string };

/** The events of a task's or a service's logs; throws GOAT_ERR_NOT_FOUND or GOAT_ERR_NODE_UNREACHABLE before any. */
export function openLogs(deps: LogsDeps, target: LogTarget, options: LogReadOptions): AsyncIterableIterator<LogEvent> {
  if ('task' in target) {
    const t = deps.getTask(target.task);
    if (!t) throw new GoatError('GOAT_ERR_NOT_FOUND', `no task '${target.task}'`, { details: { task: target.task } });
    return openTask(deps, t, options);
  }
  const name = target.service;
  const tasks = deps.listTasks({ service: name }).filter((t) => t.node !== null);
  if (!deps.getService(name) && tasks.length === 0) throw new GoatError('GOAT_ERR_NOT_FOUND', `no service '${name}'`, { details: { service: name } });
  // The tasks that ran or run: live ones, and finished ones whose node still has their output.
  const sources = tasks.map((t): AsyncIterable<LogEvent> => {
    try {
      return openTask(deps, t, options);
    } catch (err) {
      if (t.desired !== 'running') return once([]); // an old task on a node that is gone: nothing to say
      const e = err as GoatError;
      return once([{ type: 'error', task: t.id, code: e.code, message: e.message, details: e.details }]);
    }
  });
  return mergeEvents(sources);
}

function openTask(deps: LogsDeps, t: TaskRecord, options: LogReadOptions): AsyncIterableIterator<LogEvent> {
  if (t.node === null) throw new GoatError('GOAT_ERR_NOT_FOUND', `task ${t.id} has not been placed on a node yet (${t.state}); it has no logs`, { details: { task: t.id } });
  if (!deps.router.linked(t.node)) {
    const node = deps.getNode(t.node);
    const name = node?.name ?? t.node;
    const seen = node ? `last seen ${new Date(node.lastSeenAt).toISOString()} (${ago(node.lastSeenAt)})` : 'never seen';
    throw new GoatError('GOAT_ERR_NODE_UNREACHABLE', `task ${t.id} runs on node ${name} (${t.node}), which is ${node?.status ?? 'unknown'}: ${seen}; its logs are on that node`, {
      temporary: true, details: { task: t.id, node: t.node, nodeName: name, status: node?.status ?? 'unknown', lastSeenAt: node?.lastSeenAt ?? null },
    });
  }
  return deps.router.open(t.node, t.id, t.generation, options);
}

function ago(at: number): string {
  const s = Math.max(0, Math.round((Date.now() - at) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

async function* once(events: LogEvent[]): AsyncIterableIterator<LogEvent> {
  yield* events;
}
