/**
 * `goat-cluster logs SERVICE|TASK [--follow] [--tail N] [--since 10m]
 * [--timestamps]`: a task's lines, or a service's lines from all its tasks
 * each prefixed with its task id, read from the manager's
 * `/v1/{tasks,services}/…/logs` as JSON lines and shown as text
 * (`out | …` for stdout, `err | …` for stderr), or passed on with `--json`.
 */
import { GoatError, type GoatErrorCode } from '../errors.js';
import { formatLogEvent, parseSince, type LogEvent } from '../logs/index.js';
import type { Command, CommandContext } from './commands.js';
import { goatFetch } from '../tls-fetch.js';

/** The API path of `logs TARGET` (a task id has dots; a service name cannot). */
export function logsPath(target: string, q: { follow?: boolean; tail?: number; since?: number }): string {
  const base = target.includes('.') ? `/v1/tasks/${encodeURIComponent(target)}/logs` : `/v1/services/${encodeURIComponent(target)}/logs`;
  const params = new URLSearchParams();
  if (q.follow) params.set('follow', '1');
  if (q.tail !== undefined) params.set('tail', String(q.tail));
  if (q.since !== undefined) params.set('since', String(q.since));
  const s = params.toString();
  return s ? `${base}?${s}` : base;
}

/** The `logs` command. */
export const logsCommand: Command = {
  options: { follow: { type: 'boolean', short: 'f' }, tail: { type: 'string', short: 'n' }, since: { type: 'string' }, timestamps: { type: 'boolean', short: 't' } },
  async run(ctx: CommandContext) {
    const target = ctx.args[0];
    if (target === undefined) throw new GoatError('GOAT_ERR_USAGE', 'missing SERVICE or TASK');
    const v = ctx.values;
    let tail: number | undefined;
    if (v['tail'] !== undefined && v['tail'] !== 'all') {
      tail = Number(v['tail']);
      if (!Number.isInteger(tail) || tail < 0) throw new GoatError('GOAT_ERR_USAGE', `--tail wants a whole number >= 0 (or all), got '${String(v['tail'])}'`);
    }
    const since = v['since'] === undefined ? undefined : parseSince(v['since'] as string);
    const path = logsPath(target, { follow: v['follow'] === true, ...(tail === undefined ? {} : { tail }), ...(since === undefined ? {} : { since }) });
    let res: Response;
    try {
      res = await goatFetch(new URL(path, ctx.manager), { headers: { accept: 'application/x-ndjson', ...(ctx.token ? { authorization: `Bearer ${ctx.token}` } : {}) } }, { ca: ctx.ca });
    } catch (err) {
      throw new GoatError('GOAT_ERR_NOT_READY', `cannot reach the manager at ${ctx.manager}: ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}`, { temporary: true });
    }
    if (!res.ok || !res.body) {
      const e = ((await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
      throw new GoatError((e?.code ?? 'GOAT_ERR_INTERNAL') as GoatErrorCode, e?.message ?? `HTTP ${res.status}`, { details: { status: res.status, ...(e?.details ?? {}) } });
    }
    const prefix = !target.includes('.');
    const decoder = new TextDecoder();
    let buffer = '';
    let failed: LogEvent | undefined;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      const nl = buffer.lastIndexOf('\n');
      if (nl < 0) continue;
      const lines = buffer.slice(0, nl).split('\n');
      buffer = buffer.slice(nl + 1);
      let out = '';
      for (const line of lines) {
        if (!line) continue;
        if (ctx.json) {
          out += `${line}\n`;
          continue;
        }
        const e = JSON.parse(line) as LogEvent;
        if (e.type === 'error' && !prefix) failed = e;
        else out += formatLogEvent(e, { prefix, timestamps: v['timestamps'] === true });
      }
      if (out) ctx.out.write(out);
    }
    if (failed?.type === 'error') throw new GoatError(failed.code as GoatErrorCode, failed.message, { details: failed.details ?? {} });
  },
};
