/**
 * What a worker reports about why a task is not running — its `error` (the
 * refusal, spawn or start error, a spent budget) and its classified
 * `failure` — folded into the manager's task record, so `ps` and the task
 * JSON say why (issue 11). Pure: the manager calls it once per report.
 */
import type { FailureKind, TaskFailure } from './failure.js';
import type { TaskRecord } from './records.js';

/** Longest message kept from a report, in characters. */
export const MAX_REPORTED_MESSAGE = 4096;

/** The error fields of a task report, as the link carries them. */
export interface ReportedFault {
  /** Why it is not running now; null once it runs again; absent when the worker does not say. */
  error?: { code?: string; message: string } | null;
  /** Its latest classified failure; absent when the worker does not say. */
  failure?: { kind: FailureKind; message: string; code?: string } | null;
}

/** The record's `error` and `failure` after a report, and whether they changed. */
export function applyReportedFault(t: Pick<TaskRecord, 'error' | 'failure'>, r: ReportedFault): { changed: boolean; fields: Pick<TaskRecord, 'error' | 'failure'> } {
  const error = r.error === undefined ? t.error : r.error === null ? null : { ...(r.error.code ? { code: r.error.code } : {}), message: clip(r.error.message) };
  const failure: TaskFailure | null = r.failure === undefined || r.failure === null ? t.failure : { kind: r.failure.kind, message: clip(r.failure.message), ...(r.failure.code ? { code: r.failure.code } : {}) };
  const changed = JSON.stringify(error) !== JSON.stringify(t.error) || JSON.stringify(failure) !== JSON.stringify(t.failure);
  return { changed, fields: { error, failure } };
}

/** A message cut to {@link MAX_REPORTED_MESSAGE} characters. */
export function clip(message: string): string {
  return message.length <= MAX_REPORTED_MESSAGE ? message : `${message.slice(0, MAX_REPORTED_MESSAGE - 1)}…`;
}
