/**
 * Turning dockerode errors into {@link GoatError}s: an unreachable engine is
 * `GOAT_ERR_RUNTIME_UNAVAILABLE` (temporary); what the engine refused is
 * classified where the caller knows the context (create, start).
 */
import { GoatError } from '../errors.js';

/** The fields dockerode / docker-modem put on their errors. */
interface DockerodeError {
  statusCode?: number;
  code?: string;
  name?: string;
  message?: string;
  json?: { message?: string } | null;
  reason?: string;
}

/** Engine messages that mean the task's own program could not be started. */
const PROGRAM_START = /OCI runtime|exec format error|executable file not found|exec: "/i;

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EACCES', 'ENOTCONN']);

function fields(err: unknown): DockerodeError {
  return typeof err === 'object' && err !== null ? (err as DockerodeError) : { message: String(err) };
}

/** The HTTP status the engine answered with, if it answered. */
export function statusOf(err: unknown): number | undefined {
  return fields(err).statusCode;
}

/** What the engine said (its JSON `message`), or the error's own message. */
export function engineMessage(err: unknown): string {
  const e = fields(err);
  return (e.json?.message ?? e.message ?? String(err)).trim();
}

/** True when the engine answered 404 (no such container / image). */
export function isNotFound(err: unknown): boolean {
  return statusOf(err) === 404;
}

/** True when the engine answered 409 (name in use, already being removed, not running). */
export function isConflict(err: unknown): boolean {
  return statusOf(err) === 409;
}

/** True when the request never got an answer: socket missing, refused, reset, timed out or aborted. */
export function isConnectionError(err: unknown): boolean {
  const e = fields(err);
  if (e.statusCode !== undefined) return false;
  if (e.code !== undefined && CONNECTION_CODES.has(e.code)) return true;
  if (e.name === 'AbortError') return true;
  return /socket hang up|timeout|timed out|ECONNRESET|EPIPE/i.test(e.message ?? '');
}

/** A {@link GoatError} for an engine error during `action`; GoatErrors pass through unchanged. */
export function toGoatError(err: unknown, action: string, details: Record<string, unknown> = {}): GoatError {
  if (err instanceof GoatError) return err;
  if (isConnectionError(err)) {
    return new GoatError('GOAT_ERR_RUNTIME_UNAVAILABLE', `docker engine unreachable during ${action}: ${engineMessage(err)}`, {
      details: { ...details, action },
      temporary: true,
      cause: err,
    });
  }
  return new GoatError('GOAT_ERR_RUNTIME', `docker ${action} failed: ${engineMessage(err)}`, {
    details: { ...details, action, statusCode: statusOf(err), engine: engineMessage(err) },
    cause: err,
  });
}

/** Classifies an error from creating or starting a container: resource, program or engine trouble. */
export function startError(err: unknown, action: 'create' | 'start', details: Record<string, unknown>): GoatError {
  if (err instanceof GoatError || isConnectionError(err)) return toGoatError(err, action, details);
  const message = engineMessage(err);
  const port = /(?:0\.0\.0\.0|\[::\]|::):(\d+)/.exec(message)?.[1];
  if (/port is already allocated|address already in use/i.test(message)) {
    return new GoatError('GOAT_ERR_RESOURCE', `a host port is already in use: ${message}`, {
      details: { ...details, resource: 'port', port: port === undefined ? undefined : Number(port), engine: message },
      cause: err,
    });
  }
  if (/no space left on device/i.test(message)) {
    return new GoatError('GOAT_ERR_RESOURCE', `no disk space: ${message}`, { details: { ...details, resource: 'disk', engine: message }, cause: err });
  }
  if (/CPUs available/i.test(message)) {
    return new GoatError('GOAT_ERR_RESOURCE', message, { details: { ...details, resource: 'cpu', engine: message }, cause: err });
  }
  if (action === 'create' && statusOf(err) === 404) {
    return new GoatError('GOAT_ERR_RESOURCE', `image not present on this node (goat never pulls): ${message}`, {
      details: { ...details, resource: 'image', engine: message },
      cause: err,
    });
  }
  if (action === 'create' && statusOf(err) === 400) {
    return new GoatError('GOAT_ERR_INVALID_SPEC', `docker refused the container spec: ${message}`, {
      details: { ...details, field: 'spec', engine: message },
      cause: err,
    });
  }
  if (action === 'start' && PROGRAM_START.test(message)) {
    return new GoatError('GOAT_ERR_TASK_START', `the task's program could not start: ${message}`, {
      details: { ...details, engine: message },
      cause: err,
    });
  }
  if (action === 'start') {
    // Not about the program (e.g. a daemon shutting down: "failed to update store for object type
    // *libnetwork.endpoint"): the engine's trouble, temporary, not the application's.
    return new GoatError('GOAT_ERR_RUNTIME_UNAVAILABLE', `the docker engine could not start the container: ${message}`, {
      details: { ...details, engine: message },
      temporary: true,
      cause: err,
    });
  }
  return toGoatError(err, action, details);
}
