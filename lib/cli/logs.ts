/**
 * `goat-cluster logs SERVICE|TASK [--follow] [--tail N] [--since 10m]
 * [--timestamps]`: a task's lines, or a service's lines from all its tasks
 * each prefixed with its task id, read from the manager's
 * `/v1/{tasks,services}/…/logs` as the text it formats (`out | …` for
 * stdout, `err | …` for stderr), passed on as it comes, or its JSON lines
 * with `--json`.
 */
import { GoatError, type GoatErrorCode } from '../errors.js';
import { parseSince } from '../logs/index.js';
import type { Command, CommandContext } from './commands.js';
import { goatFetch } from '../tls-fetch.js';

/** The API path of `logs TARGET` (a task id has dots; a service name cannot). */
export function logsPath(target: string, q: { follow?: boolean; timestamps?: boolean; tail?: number; since?: number }): string {
  const base = target.includes('.') ? `/v1/tasks/${encodeURIComponent(target)}/logs` : `/v1/services/${encodeURIComponent(target)}/logs`;
  const params = new URLSearchParams();
  if (q.follow) params.set('follow', '1');
  if (q.timestamps) params.set('timestamps', '1');
  if (q.tail !== undefined) params.set('tail', String(q.tail));
  if (q.since !== undefined) params.set('since', String(q.since));
  const s = params.toString();
  return s ? `${base}?${s}` : base;
}

/** How a notice of the manager's text format starts (formatLogEvent), where a task's own lines start with `out | `, `err | ` or a time. */
const NOTICE = '[goat] ';
/** A notice that ends the stream with an error: `[goat] MESSAGE (GOAT_ERR_…)`. */
const ERROR_NOTICE = /^\[goat\] (.*) \((GOAT_ERR_[A-Z_]+)\)$/;

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
    const path = logsPath(target, { follow: v['follow'] === true, timestamps: v['timestamps'] === true, ...(tail === undefined ? {} : { tail }), ...(since === undefined ? {} : { since }) });
    let res: Response;
    try {
      // Text as the manager formats it (each line passed on as it comes), or its JSON lines with --json.
      res = await goatFetch(new URL(path, ctx.manager), { headers: { accept: ctx.json ? 'application/x-ndjson' : 'text/plain', ...(ctx.token ? { authorization: `Bearer ${ctx.token}` } : {}) } }, { ca: ctx.ca });
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
    let failed: { code: string; message: string } | undefined;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      const nl = buffer.lastIndexOf('\n');
      if (nl < 0) continue;
      // Whole lines only; the manager formats them (text/plain), so they are passed on as they come.
      let out = buffer.slice(0, nl + 1);
      buffer = buffer.slice(nl + 1);
      // A task's stream that fails says so in a notice (`[goat] MESSAGE (CODE)`): an error, not output.
      if (!ctx.json && !prefix && (out.startsWith(NOTICE) || out.includes(`\n${NOTICE}`))) {
        const kept: string[] = [];
        for (const line of out.slice(0, -1).split('\n')) {
          const m = ERROR_NOTICE.exec(line);
          if (m) failed = { message: m[1]!, code: m[2]! };
          else kept.push(line);
        }
        out = kept.length > 0 ? `${kept.join('\n')}\n` : '';
      }
      if (out) ctx.out.write(out);
    }
    if (failed) throw new GoatError(failed.code as GoatErrorCode, failed.message);
  },
};
